"""Running ciagent as a team would: a key not set is found before any call, `--ray` with no
cluster is one line, `ciagent eval --no-cache` measures rather than replays, and the response
cache and the spend ledger stay within their limits (`ciagent cache prune`)."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ciagent
from ciagent.budget import Cap, Hold, Ledger
from ciagent.cache import CachedAnswer, ResponseCache
from ciagent.cli import app
from ciagent.errors import ConfigError
from ciagent.settings import Settings
from ciagent.testing import FakeModel
from tests.helpers import reference, transcript_of

TEXT = "\n".join(
    f"Sarah: The kelp forest off Monterey Bay grew back in year {i}." for i in range(12)
)


def test_a_provider_key_not_set_is_found_before_any_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=r"OPENAI_API_KEY.*not set"):
        ciagent.enrich(transcript_of(TEXT), Settings(model="openai/gpt-4o-mini", cache=False))
    assert time.perf_counter() - started < 30  # not after every chunk's retries


def test_the_cli_names_the_missing_key_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    episode = tmp_path / "ep.txt"
    episode.write_text(TEXT)
    model = "claude-3-haiku-20240307"  # litellm knows its price and its key
    result = CliRunner().invoke(app, ["enrich", str(episode), "--model", model, "--no-cache"])
    assert result.exit_code == 2, result.output
    assert "ANTHROPIC_API_KEY" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_ray_auto_with_no_cluster_is_one_line_and_exit_1(tmp_path: Path) -> None:
    import subprocess
    import sys

    cli = [sys.executable, "-m", "ciagent"]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "ep.txt").write_text(TEXT)
    done = subprocess.run(
        [*cli, "batch", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--ray", "auto"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "RAY_ADDRESS": "", "CIAGENT_MODEL": "ciagent.testing:FakeModel"},
        check=False,
    )
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert "no Ray cluster reachable" in errors[0]
    assert "Traceback" not in done.stderr


def test_eval_no_cache_asks_every_call_again(tmp_path: Path) -> None:
    episode = tmp_path / "ep.txt"
    episode.write_text(TEXT)
    dataset = tmp_path / "gold.jsonl"
    dataset.write_text(
        json.dumps({"id": "kelp", "transcript": str(episode), "summary": "Kelp."}) + "\n"
    )
    fake = FakeModel()
    runner = CliRunner()

    def calls(*extra: str) -> int:
        out = tmp_path / "scores.json"
        args = [
            "eval",
            str(dataset),
            "--model",
            reference(fake),
            "--cache-dir",
            str(tmp_path / "c"),
        ]
        result = runner.invoke(app, [*args, *extra, "--out", str(out)])
        assert result.exit_code == 0, result.output
        (score,) = json.loads(out.read_text())
        return int(score["calls"])

    first = calls()
    assert first > 0
    assert calls() == 0  # replayed from the cache: the cost columns say nothing
    assert calls("--no-cache") == first  # every call asked and counted again


def test_the_response_cache_stays_under_its_size_limit(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "responses", max_mb=1)
    blob = "x" * 100_000
    for n in range(40):  # about 4 MB written
        cache.put(
            f"key{n}",
            CachedAnswer(output={"text": blob}, model="m", prompt_tokens=1, completion_tokens=1),
        )
        if n == 5:
            assert cache.get("key0") is not None  # read: recently used
    stats = cache.stats()
    assert stats.bytes <= 1.2 * 2**20, stats
    assert cache.get("key39") is not None  # the newest kept
    assert cache.get("key1") is None  # the least recently used went first
    cache.close()


def test_a_cache_limit_below_one_megabyte_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cache_max_mb"):
        Settings(cache_max_mb=0)


def _age(path: Path, scope: str, days: float) -> None:
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE entries SET created = ? WHERE scope = ?", (time.time() - days * 86400, scope)
        )


def test_ledger_rows_of_runs_idle_past_the_limit_are_pruned(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger = Ledger(path, keep_days=7)
    for scope in ("run:old", "run:recent"):
        hold = ledger.reserve(Hold([Cap(scope, usd=1.0)], 0.1, 10, "notes[0]"))
        ledger.settle(hold, 0.05, 5)
    _age(path, "run:old", 30)
    assert ledger.prune() == 1
    assert ledger.spent("run:old").usd == 0
    assert ledger.spent("run:recent").usd == pytest.approx(0.05)


def test_cache_prune_trims_the_cache_and_the_ledger(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "responses", max_mb=64)
    for n in range(30):
        cache.put(
            f"k{n}",
            CachedAnswer(
                output={"t": "y" * 100_000}, model="m", prompt_tokens=1, completion_tokens=1
            ),
        )
    cache.close()
    ledger = Ledger(tmp_path / "ledger.sqlite")
    hold = ledger.reserve(Hold([Cap("run:gone", usd=1.0)], 0.1, 10, "notes[0]"))
    ledger.settle(hold, 0.05, 5)
    _age(tmp_path / "ledger.sqlite", "run:gone", 90)
    result = CliRunner().invoke(
        app, ["cache", "prune", "--cache-dir", str(tmp_path), "--max-mb", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "dropped" in result.output
    assert "pruned 1 rows" in result.output
    left = ResponseCache(tmp_path / "responses", max_mb=1)
    assert left.stats().bytes <= 1.2 * 2**20
    left.close()
