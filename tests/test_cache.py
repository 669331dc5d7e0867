"""The response cache: replay without model calls, and misses whenever the answer could differ."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

import ciagent
from ciagent import Settings
from ciagent.cache import ResponseCache, cache_key
from ciagent.prompts import load_prompt, prompts_dir
from ciagent.testing import FakeModel
from tests.helpers import without_cost

EPISODE = Path(__file__).resolve().parents[1] / "examples" / "harvest-notes-ep7.txt"


def test_second_run_is_served_from_the_cache(tmp_path: Path) -> None:
    fake = FakeModel()
    settings = Settings(model=fake, cache_dir=tmp_path, chunk_tokens=200, chunk_overlap_tokens=0)
    first = ciagent.enrich(EPISODE, settings)
    requests = len(fake.requests)
    second = ciagent.enrich(EPISODE, settings)

    assert first.cost.calls == requests > 1
    assert first.cost.cache_hits == 0
    assert second.cost.calls == 0
    assert second.cost.cache_hits == requests
    assert len(fake.requests) == requests  # the model was not asked again
    assert without_cost(second) == without_cost(first)


def test_a_new_prompt_version_misses_the_cache(tmp_path: Path) -> None:
    fake = FakeModel()
    settings = Settings(model=fake, cache_dir=tmp_path / "cache")
    ciagent.enrich(EPISODE, settings)
    asked = len(fake.requests)

    prompts = tmp_path / "prompts"
    shutil.copytree(prompts_dir(), prompts)
    template = prompts / "chunk_notes.toml"
    shipped = load_prompt("chunk_notes").version
    text = template.read_text().replace(f'version = "{shipped}"', f'version = "{shipped}.1"')
    template.write_text(text)
    result = ciagent.enrich(EPISODE, settings.model_copy(update={"prompts_dir": prompts}))
    assert len(fake.requests) == asked + 1
    assert result.cost.calls == 1
    assert result.provenance.prompt_versions["chunk_notes"] == f"{shipped}.1"


def test_key_covers_everything_that_changes_the_answer() -> None:
    base = {
        "model": "hosted_vllm/qwen",
        "api_base": "http://127.0.0.1:8000/v1",
        "messages": [{"role": "user", "content": "hi"}],
        "schema": {"title": "A", "type": "object"},
        "params": {"temperature": 0.0, "max_tokens": 100, "seed": 0},
        "prompt": "chunk_notes@1",
    }
    key = cache_key(**base)  # type: ignore[arg-type]
    assert key == cache_key(**base)  # type: ignore[arg-type]
    variants = [
        {"model": "hosted_vllm/other"},
        {"api_base": "http://127.0.0.1:9000/v1"},
        {"messages": [{"role": "user", "content": "hi!"}]},
        {"schema": {"title": "B", "type": "object"}},
        {"params": {"temperature": 0.7, "max_tokens": 100, "seed": 0}},
        {"params": {"temperature": 0.0, "max_tokens": 101, "seed": 0}},
        {"prompt": "chunk_notes@2"},
    ]
    for change in variants:
        assert cache_key(**{**base, **change}) != key, change  # type: ignore[arg-type]


def test_no_cache_writes_nothing_and_values_are_json_text(tmp_path: Path) -> None:
    fake = FakeModel()
    ciagent.enrich(EPISODE, Settings(model=fake, cache_dir=tmp_path / "off", cache=False))
    assert not (tmp_path / "off" / "responses").exists()

    result = ciagent.enrich(EPISODE, Settings(model=fake, cache_dir=tmp_path / "on"))
    cache = ResponseCache(tmp_path / "on" / "responses")
    try:
        assert cache.stats().entries == result.cost.calls >= 2  # chunk notes, then judge calls
        for key in cache._cache.iterkeys():
            raw = cache._cache.get(key)
            assert isinstance(raw, str)
            assert raw.startswith("{")
    finally:
        cache.close()


def test_secrets_never_reach_cache_output_or_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-ciagent-test-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("ANTHROPIC_API_KEY", secret)
    caplog.set_level(logging.DEBUG)
    fake = FakeModel()
    result = ciagent.enrich(EPISODE, Settings(model=fake, cache_dir=tmp_path))
    stored = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert secret.encode() not in stored
    assert secret not in result.to_json()
    assert secret not in caplog.text


class _Payload:
    """What an attacker plants: unpickling it runs a command (here, it creates a file)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return os.system, (f"touch {self.marker}",)


def test_a_planted_pickle_is_never_run_and_the_answer_is_recomputed(tmp_path: Path) -> None:
    import pickle
    import sqlite3

    fake = FakeModel()
    settings = Settings(model=fake, cache_dir=tmp_path / "cache")
    first = ciagent.enrich(EPISODE, settings)
    asked = len(fake.requests)
    marker = tmp_path / "pwned"
    with sqlite3.connect(tmp_path / "cache" / "responses" / "cache.db") as db:
        planted = db.execute(
            "UPDATE Cache SET mode = 4, value = ?",  # diskcache's pickle mode, every row
            (pickle.dumps(_Payload(marker)),),
        ).rowcount
    assert planted == asked

    second = ciagent.enrich(EPISODE, settings)
    assert not marker.exists()
    assert len(fake.requests) == 2 * asked  # every planted row was a miss, asked again
    assert without_cost(second) == without_cost(first)
    third = ciagent.enrich(EPISODE, settings)  # the rows were overwritten with answers
    assert third.cost.cache_hits == asked
    assert not marker.exists()


def test_the_cache_stores_text_only() -> None:
    from ciagent.cache import TextDisk

    disk = TextDisk(str(Path("/nonexistent")))
    with pytest.raises(TypeError, match="text"):
        disk.store({"not": "text"}, False)
    with pytest.raises(TypeError, match="text"):
        disk.put(("a", "tuple"))


@pytest.mark.parametrize("damage", ["random bytes", "truncated"])
def test_a_damaged_cache_is_moved_aside_and_rebuilt(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    import os

    from typer.testing import CliRunner

    from ciagent.cli import app

    fake = FakeModel()
    settings = Settings(model=fake, cache_dir=tmp_path)
    ciagent.enrich(EPISODE, settings)
    database = tmp_path / "responses" / "cache.db"
    if damage == "random bytes":
        database.write_bytes(os.urandom(50_000))
    else:
        with database.open("r+b") as handle:
            handle.truncate(database.stat().st_size // 3)
    for extra in ("-wal", "-shm"):
        (tmp_path / "responses" / f"cache.db{extra}").unlink(missing_ok=True)

    with caplog.at_level(logging.WARNING, logger="ciagent.cache"):
        result = ciagent.enrich(EPISODE, settings)
    assert result.status == "complete"
    assert "could not be read" in caplog.text
    assert list((tmp_path / "responses").glob("cache.db.damaged-*"))
    assert ResponseCache(tmp_path / "responses").stats().entries == result.cost.calls > 0

    runner = CliRunner()
    for command in (["cache", "stats"], ["cache", "clear"]):
        database.write_bytes(os.urandom(50_000))
        outcome = runner.invoke(app, [*command, "--cache-dir", str(tmp_path)])
        assert outcome.exit_code == 0, outcome.output
