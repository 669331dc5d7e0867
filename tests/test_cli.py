"""The command line: exit codes, bad-input messages, the schema, enrichment on a fake model."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ciagent.cli import app
from ciagent.signals import built_in
from ciagent.testing import FakeModel
from ciagent.types import EpisodeEnrichment
from tests.helpers import reference

runner = CliRunner()


def ciagent_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ciagent", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.vtt", b"", "empty transcript"),
        ("binary.txt", b"\x00\x01\x02\x03binary", "binary file"),
        ("episode.xyz", b"hello there", "unknown transcript format"),
        (
            "bad.srt",
            b"1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:0x --> 00:00:03\nno\n",
            "bad.srt:6: malformed cue timing",
        ),
        ("latin1.txt", "A: fine\nB: caf\xe9\n".encode("latin-1"), "latin1.txt:2: not valid UTF-8"),
    ],
)
def test_bad_input_exits_2_with_one_clear_message(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    started = time.perf_counter()
    done = ciagent_cli("enrich", str(path))
    elapsed = time.perf_counter() - started
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert str(path.name) in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    # Bad input answers before any model stack is imported (litellm alone takes seconds).
    assert elapsed < 30


def test_missing_file_and_bad_config_exit_2(tmp_path: Path) -> None:
    done = ciagent_cli("enrich", str(tmp_path / "missing.vtt"))
    assert done.returncode == 2
    assert "no such file" in done.stderr
    config = tmp_path / "ciagent.toml"
    config.write_text("chunk_tokens = 'many'\n")
    episode = tmp_path / "ep.txt"
    episode.write_text("A: hi\n")
    done = ciagent_cli("enrich", str(episode), "--config", str(config))
    assert done.returncode == 2
    assert "chunk_tokens" in done.stderr
    assert "Traceback" not in done.stderr


def test_help_does_not_import_the_model_stack() -> None:
    code = (
        "import sys; from ciagent.cli import app; "
        "from typer.testing import CliRunner; CliRunner().invoke(app, ['--help']); "
        "print(sorted(m for m in ('litellm', 'langgraph', 'llama_cpp') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


def test_schema_prints_the_output_contract() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    shapes = {e.name: (e.result_model(), e.listed) for e in built_in()}
    assert schema == EpisodeEnrichment.json_schema(shapes)  # with the built-in extractors'
    bare = EpisodeEnrichment.model_json_schema()
    assert {k: v for k, v in schema["properties"].items() if k != "extras"} == {
        k: v for k, v in bare["properties"].items() if k != "extras"
    }
    for field in (
        "status",
        "summary",
        "chapters",
        "topics",
        "entities",
        "quotes",
        "verification",
        "cost",
        "provenance",
    ):
        assert field in schema["properties"]


def test_enrich_writes_result_and_summary_line(tmp_path: Path, examples_dir: Path) -> None:
    fake = FakeModel()
    out = tmp_path / "out" / "result.json"
    result = runner.invoke(
        app,
        [
            "enrich",
            str(examples_dir / "harvest-notes-ep7.txt"),
            "--out",
            str(out),
            "--model",
            reference(fake),
        ],
    )
    assert result.exit_code == 0, result.output
    enrichment = EpisodeEnrichment.model_validate_json(out.read_text())
    assert enrichment.status == "complete"
    assert not enrichment.provenance.timed
    assert "calls" in result.stderr
    assert "tokens" in result.stderr
    assert f"{enrichment.cost.calls} calls" in result.stderr


def test_enrich_to_stdout(examples_dir: Path) -> None:
    fake = FakeModel()
    result = runner.invoke(
        app, ["enrich", str(examples_dir / "harvest-notes-ep7.txt"), "--model", reference(fake)]
    )
    assert result.exit_code == 0
    assert EpisodeEnrichment.model_validate_json(result.stdout).summary


def test_unknown_model_is_a_config_error(examples_dir: Path) -> None:
    episode = str(examples_dir / "harvest-notes-ep7.txt")
    result = runner.invoke(app, ["enrich", episode, "--model", "fake/nobody"])
    assert result.exit_code == 2
    assert "no price known for 'fake/nobody'" in result.stderr
    missing = runner.invoke(app, ["enrich", episode, "--model", "tests.helpers:nobody"])
    assert missing.exit_code == 2
    assert "cannot load 'tests.helpers:nobody'" in missing.stderr
    failing = runner.invoke(app, ["enrich", episode, "--model", "tests.helpers:reference"])
    assert failing.exit_code == 2
    assert "cannot make a backend of 'tests.helpers:reference'" in failing.stderr
    wrong = runner.invoke(app, ["enrich", episode, "--model", "tests.helpers:__name__"])
    assert wrong.exit_code == 2
    assert "is not a backend" in wrong.stderr


def test_cache_options_and_commands(tmp_path: Path, examples_dir: Path) -> None:
    fake = FakeModel()
    episode = str(examples_dir / "harvest-notes-ep7.txt")
    base = ["--model", reference(fake), "--cache-dir", str(tmp_path), "--out", str(tmp_path / "r")]
    assert runner.invoke(app, ["enrich", episode, *base, "--no-cache"]).exit_code == 0
    stats = runner.invoke(app, ["cache", "stats", "--cache-dir", str(tmp_path)])
    assert stats.exit_code == 0
    assert ": 0 entries" in stats.stdout

    assert runner.invoke(app, ["enrich", episode, *base]).exit_code == 0
    calls = EpisodeEnrichment.model_validate_json((tmp_path / "r").read_text()).cost.calls
    assert calls >= 2  # chunk notes and the judging of the summary
    replay = runner.invoke(app, ["enrich", episode, *base])
    assert replay.exit_code == 0
    assert "0 calls" in replay.stderr
    stats = runner.invoke(app, ["cache", "stats", "--cache-dir", str(tmp_path)])
    assert f": {calls} entries" in stats.stdout

    cleared = runner.invoke(app, ["cache", "clear", "--cache-dir", str(tmp_path)])
    assert cleared.exit_code == 0
    assert f"removed {calls} entries" in cleared.stdout
    assert (
        ": 0 entries" in runner.invoke(app, ["cache", "stats", "--cache-dir", str(tmp_path)]).stdout
    )


def test_models_lists_prices_and_health(tmp_path: Path, upstream: str) -> None:
    config = tmp_path / "ciagent.toml"
    config.write_text(
        "[[deployments]]\n"
        'name = "local-vllm"\nmodel = "hosted_vllm/fake"\n'
        f'api_base = "{upstream}/v1"\ncontext_window = 8192\n'
        "price = { gpu_hour_usd = 2.0, tokens_per_second = 1000 }\n"
        "[[deployments]]\n"
        'name = "gone"\nmodel = "hosted_vllm/gone"\napi_base = "http://127.0.0.1:9/v1"\n'
        'tier = "frontier"\ncontext_window = 8192\n'
        "price = { input_usd_per_mtok = 1.0, output_usd_per_mtok = 2.0 }\n"
    )
    result = runner.invoke(app, ["models", "--config", str(config)], terminal_width=200)
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    embedded = [line for line in result.stdout.splitlines() if line.startswith("embedded ")]
    assert len(embedded) == 2  # the 0.5B default and the 1.5B stronger tier
    assert all(line.rstrip().endswith("ready") for line in embedded)
    assert "0.5556" in lines["local-vllm"]
    assert " 2048 " in lines["local-vllm"]  # a quarter of its 8192-token context per chunk
    assert all(" 1500 " in line for line in embedded)
    assert lines["local-vllm"].rstrip().endswith("up")
    assert "frontier" in lines["gone"]
    assert "down" in lines["gone"]

    config.write_text('[[deployments]]\nname = "x"\nmodel = "hosted_vllm/x"\ncontext_window = 9\n')
    unpriced = runner.invoke(app, ["models", "--config", str(config)])
    assert unpriced.exit_code == 2
    assert "has no price" in unpriced.stderr
