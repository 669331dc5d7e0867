from __future__ import annotations

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
    messages = prompt.messages(transcript="[0] A: hello", quotes="two", summary="")
    assert messages[0]["role"] == "system"
    assert "at most two notable sentences" in messages[0]["content"]  # the system text too
    assert messages[-1]["content"].endswith("[0] A: hello")
    assert [m["role"] for m in messages[1:-1]] == ["user", "assistant"] * len(prompt.examples)
    with pytest.raises(ConfigError, match=r"\$transcript"):
        prompt.messages(quotes="two", summary="")
    with pytest.raises(ConfigError, match=r"\$quotes"):
        prompt.messages(transcript="[0] A: hello", summary="")
