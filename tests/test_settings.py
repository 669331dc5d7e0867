from __future__ import annotations

import re
from pathlib import Path

import pytest

from ciagent import ConfigError, Settings
from ciagent.prompts import load_prompt


def test_precedence_defaults_file_env_overrides(tmp_path: Path) -> None:
    config = tmp_path / "ciagent.toml"
    config.write_text('[ciagent]\nchunk_tokens = 900\nmodel = "fake/x"\nmax_reasks = 1\n')
    env = {"CIAGENT_CHUNK_TOKENS": "800", "CIAGENT_CACHE_DIR": str(tmp_path / "c")}
    settings = Settings.load(config, env=env, max_reasks=None, concurrency=2)
    assert settings.chunk_tokens == 800  # env over file
    assert settings.model == "fake/x"  # file over default
    assert settings.max_reasks == 1  # None overrides are ignored
    assert settings.concurrency == 2
    assert settings.cache_dir == tmp_path / "c"
    assert settings.temperature == 0.0


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.chunk_tokens = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("chunk_tokens = 4\n", "chunk_tokens"),
        ("colour = 'blue'\n", r"unknown setting\(s\): colour"),
        ("chunk_tokens = [\n", "invalid TOML"),
        ("chunk_tokens = 100\nchunk_overlap_tokens = 60\n", "below half"),
    ],
)
def test_bad_config_names_the_file_and_the_setting(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message) as caught:
        Settings.load(config, env={})
    assert str(config) in str(caught.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        Settings.load(tmp_path / "none.toml", env={})


def test_prompts_are_versioned_and_fill_their_placeholders() -> None:
    prompt = load_prompt("chunk_notes")
    assert prompt.version
    assert prompt.ref == f"chunk_notes@{prompt.version}"
    messages = prompt.messages(transcript="[0] A: hello", quotes="two", summary="", extras="")
    assert messages[0]["role"] == "system"
    assert "at most two notable sentences" in messages[0]["content"]  # the system text too
    assert messages[-1]["content"].endswith("[0] A: hello")
    assert [m["role"] for m in messages[1:-1]] == ["user", "assistant"] * len(prompt.examples)
    with pytest.raises(ConfigError, match=r"\$transcript"):
        prompt.messages(quotes="two", summary="", extras="")
    with pytest.raises(ConfigError, match=r"\$quotes"):
        prompt.messages(transcript="[0] A: hello", summary="", extras="")


def test_a_bad_value_is_blamed_on_where_it_came_from(tmp_path: Path) -> None:
    """The flag, the environment variable, or the file and line: never a file that does not
    exist."""
    from typer.testing import CliRunner

    from ciagent.cli import app

    episode = Path(__file__).resolve().parents[1] / "examples" / "harvest-notes-ep7.txt"
    runner = CliRunner()
    flag = runner.invoke(app, ["enrich", str(episode), "--budget-usd", "-1", "--no-cache"])
    assert flag.exit_code == 2
    assert "--budget-usd: budget_usd" in flag.output
    assert "ciagent.toml" not in flag.output

    with pytest.raises(ConfigError, match=r"^environment variable CIAGENT_BUDGET_USD: budget_usd"):
        Settings.load(None, env={"CIAGENT_BUDGET_USD": "-3"})

    config = tmp_path / "ciagent.toml"
    config.write_text('model = "fake/x"\n\n# spend\nbudget_usd = -2\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(config))}, line 4: budget_usd"):
        Settings.load(config, env={})
    with pytest.raises(ConfigError, match=r"^argument budget_tokens: budget_tokens"):
        Settings.load(None, env={}, budget_tokens=-5)


def test_a_bad_value_in_code_is_a_config_error_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match="chunk_overlap_tokens"):
        Settings(chunk_overlap_tokens=900)
    with pytest.raises(ConfigError, match="argument chunk_tokens"):
        Settings().model_copy(update={"chunk_tokens": "many"})
    with pytest.raises(ConfigError, match="unknown setting"):
        Settings().model_copy(update={"chunk_size": 9})
    from tests.test_extractors import Book

    copied = Settings(cache=False).model_copy(update={"extractors": (Book,)})
    assert [e.name for e in copied.extractors] == ["books"]  # declared, as when first given
    assert copied.cache is False


def test_the_library_reads_settings_as_the_command_line_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ciagent.enrich(path)` with no settings reads ./ciagent.toml and CIAGENT_*; a Settings
    object is used as given."""
    import ciagent
    from ciagent.testing import FakeModel

    episode = Path(__file__).resolve().parents[1] / "examples" / "long-tide-ep41.vtt"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ciagent.toml").write_text('extractors = ["tests.test_extractors:Book"]\n')
    monkeypatch.setenv("CIAGENT_CACHE", "false")
    monkeypatch.setenv("CIAGENT_CACHE_DIR", str(tmp_path / "cache"))
    first = ciagent.enrich(episode, model=FakeModel())
    again = ciagent.enrich(episode, model=FakeModel())
    assert "books" in first.extras  # from the file
    assert again.cost.cache_hits == 0  # the environment's cache = false
    given = ciagent.enrich(episode, Settings(cache=False), model=FakeModel())
    assert given.extras == {}


def test_an_empty_transcript_in_memory_is_a_transcript_error() -> None:
    import ciagent
    from ciagent import Transcript, TranscriptError
    from ciagent.testing import FakeModel

    empty = Transcript(segments=(), timed=False, format="txt", source="draft")
    with pytest.raises(TranscriptError, match="draft: no segments with text"):
        ciagent.enrich(empty, Settings(cache=False), model=FakeModel())
