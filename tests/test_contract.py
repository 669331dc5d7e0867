"""The output contract's handles: its schema's version and `$id`, provenance, item ids, and
results as rows (`to_dataframes`, `ciagent.export`, `ciagent batch --table`)."""

from __future__ import annotations

import asyncio
import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import ciagent
from ciagent import EntityType, EpisodeEnrichment, Settings, Transcript
from ciagent.batch import BatchItem
from ciagent.cli import app
from ciagent.ids import entity_id
from ciagent.provenance import settings_hash
from ciagent.signals import built_in
from ciagent.testing import FakeModel
from ciagent.transcripts import load_transcript
from tests.helpers import reference
from tests.test_batch import episode_text, write_episodes

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "docs" / "schema" / "episode-enrichment.json"
REGENERATE = "ciagent schema > docs/schema/episode-enrichment.json"


def current_schema() -> dict[str, Any]:
    """The contract as `ciagent schema` prints it with no config: the built-in extractors'."""
    shapes = {e.name: (e.result_model(), e.listed) for e in built_in()}
    return EpisodeEnrichment.json_schema(shapes)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def drift(current: dict[str, Any], published: dict[str, Any]) -> str | None:
    """Why the published schema no longer matches the code; None when it does."""
    if current == published:
        return None
    if current["version"] == published["version"]:
        return (
            f"the output schema changed without a version bump (still {current['version']}): "
            "raise SCHEMA_VERSION in src/ciagent/version.py (minor for a field added, major "
            f"for one removed, renamed or retyped), then {REGENERATE}"
        )
    if _version(current["version"]) < _version(published["version"]):
        return f"SCHEMA_VERSION {current['version']} is below the published {published['version']}"
    return f"SCHEMA_VERSION is {current['version']}: publish its schema with {REGENERATE}"


def test_the_published_schema_is_the_code_s_at_its_version() -> None:
    published = json.loads(PUBLISHED.read_text(encoding="utf-8"))
    problem = drift(current_schema(), published)
    assert problem is None, problem


def test_a_schema_change_without_a_version_bump_is_caught() -> None:
    published = current_schema()
    changed = copy.deepcopy(published)
    changed["$defs"]["Entity"]["properties"]["salience"] = {"type": "number"}
    problem = drift(changed, published)
    assert problem is not None
    assert "without a version bump" in problem
    bumped = {**changed, "version": "1.1.0"}
    assert "publish its schema" in (drift(bumped, published) or "")
    assert "below" in (drift({**changed, "version": "0.9.0"}, published) or "")


def test_ciagent_schema_names_its_id_and_version() -> None:
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert re.fullmatch(r"\d+\.\d+\.\d+", schema["version"])
    assert schema["version"] == ciagent.SCHEMA_VERSION
    assert schema["$id"].endswith(f"/{schema['version']}.json")
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["properties"]["schema_version"]["default"] == schema["version"]


def test_entity_ids_depend_only_on_the_type_and_the_name_as_compared() -> None:
    sarah = entity_id("Sarah Chen", EntityType.PERSON)
    assert sarah.startswith("ent_")
    assert entity_id("sarah  chen", "person") == sarah
    assert entity_id("Sarah Chen.", EntityType.PERSON) == sarah
    assert entity_id("Zoë Müller", "person") == entity_id("Zoe Muller", "person")
    assert entity_id("Sarah Chen", EntityType.ORGANIZATION) != sarah
    assert entity_id("Sarah Cheng", EntityType.PERSON) != sarah


def _three(tmp_path: Path) -> list[Any]:
    """Three episodes as enrich_many takes them: a path, a Transcript, an (id, Transcript)."""
    paths = write_episodes(tmp_path / "in", 3)
    loaded = load_transcript(paths[1])
    built = Transcript(
        segments=load_transcript(paths[2]).segments, timed=False, format="txt", source=None
    )
    return [paths[0], loaded, ("episode-two", built)]


def _batch(tmp_path: Path, fake: FakeModel) -> list[BatchItem]:
    async def collect() -> list[BatchItem]:
        settings = Settings(model=fake, cache=False, run_id="run-contract")
        return [i async for i in ciagent.enrich_many(_three(tmp_path), settings, concurrency=3)]

    return asyncio.run(collect())


def test_enrich_many_takes_transcripts_and_provenance_names_run_and_episode(
    tmp_path: Path,
) -> None:
    items = _batch(tmp_path, FakeModel())
    assert [i.error for i in items] == [None, None, None]
    by_id = {i.source.id: i.result for i in items if i.result is not None}
    assert sorted(by_id) == ["ep000", "ep001", "episode-two"]
    for episode_id, result in by_id.items():
        provenance = result.provenance
        assert provenance.episode_id == episode_id
        assert provenance.run_id == "run-contract"
        assert provenance.created_at.tzinfo is not None
        assert re.fullmatch(r"sha256:[0-9a-f]{16}", provenance.settings_hash)
        assert result.schema_version == ciagent.SCHEMA_VERSION
    assert by_id["ep000"].provenance.source == str(tmp_path / "in" / "ep000.txt")
    assert by_id["episode-two"].provenance.source is None
    # Dana Whitfield is one entity across the catalog: the same id in every episode.
    dana = {e.id for r in by_id.values() for e in r.entities if e.name == "Dana Whitfield"}
    assert len(dana) == 1
    assert all(e.id for r in by_id.values() for e in r.entities)
    for result in by_id.values():
        mentions = [m.id for e in result.entities for m in e.mentions]
        quotes = [q.id for q in result.quotes]
        assert all(mentions)
        assert len(set(mentions)) == len(mentions)
        assert len(set(quotes)) == len(quotes)
        assert all(quotes)


def test_a_rerun_gives_the_same_ids_and_settings_hash(tmp_path: Path) -> None:
    fake = FakeModel()
    first = ciagent.enrich(_one(tmp_path), model=fake)
    again = ciagent.enrich(_one(tmp_path), model=fake)
    assert first.provenance.run_id != again.provenance.run_id
    assert first.provenance.settings_hash == again.provenance.settings_hash
    assert [e.id for e in first.entities] == [e.id for e in again.entities]
    assert [m.id for e in first.entities for m in e.mentions] == [
        m.id for e in again.entities for m in e.mentions
    ]


def _one(tmp_path: Path) -> Path:
    path = tmp_path / "solo.txt"
    path.write_text(episode_text(7), encoding="utf-8")
    return path


def test_the_settings_hash_follows_what_changes_the_answer(tmp_path: Path) -> None:
    base = Settings(model="ciagent-fake", cache_dir=tmp_path)
    same = [
        base.model_copy(update={"cache_dir": tmp_path / "other", "concurrency": 9}),
        base.model_copy(update={"budget_usd": 1.0, "run_id": "x", "timeout_s": 5.0}),
    ]
    different = [
        base.model_copy(update={"model": "openai/gpt-4o-mini"}),
        base.model_copy(update={"chunk_tokens": 900}),
        base.model_copy(update={"temperature": 0.5}),
        base.model_copy(update={"on_unverified": "flag"}),
    ]
    assert {settings_hash(s) for s in same} == {settings_hash(base)}
    assert len({settings_hash(s) for s in [base, *different]}) == 1 + len(different)


def _counts(results: list[EpisodeEnrichment]) -> dict[str, int]:
    return {
        "episodes": len(results),
        "entities": sum(len(r.entities) for r in results),
        "mentions": sum(len(e.mentions) for r in results for e in r.entities),
        "chapters": sum(len(r.chapters) for r in results),
        "topics": sum(len(r.topics) for r in results),
        "quotes": sum(len(r.quotes) for r in results),
        "claims": sum(len(r.claims) for r in results),
        "cost": sum(len(r.cost.by_step) for r in results),
    }


def test_a_three_episode_batch_exported_to_parquet_reads_back_in_pandas(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    results = [i.result for i in _batch(tmp_path, FakeModel()) if i.result is not None]
    assert len(results) == 3
    path = ciagent.export(results, tmp_path / "results.parquet")
    table = pd.read_parquet(path)
    expected = _counts(results)
    assert expected["entities"]
    assert expected["mentions"]
    assert expected["chapters"]
    assert table["kind"].value_counts().to_dict() == {k: n for k, n in expected.items() if n}
    assert set(table["episode_id"]) == {"ep000", "ep001", "episode-two"}
    mentions = table[table["kind"] == "mentions"]
    first = results[0].entities[0].mentions[0]
    row = mentions[mentions["mention_id"] == first.id].iloc[0]
    assert (row["char_start"], row["char_end"], row["text"]) == (
        first.char_start,
        first.char_end,
        first.text,
    )
    assert list(row["segment_ids"]) == first.segment_ids
    assert row["entity_id"] == results[0].entities[0].id
    assert row["produced_by"] == results[0].entities[0].produced_by
    # JSON Lines: the same rows.
    lines = (
        ciagent.export(results, tmp_path / "results.jsonl").read_text(encoding="utf-8").splitlines()
    )
    assert len(lines) == len(table)


def test_to_dataframes_carries_the_episode_id_and_every_field(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    result = ciagent.enrich(_one(tmp_path), model=FakeModel(), episode_id="ep-7")
    tables = result.to_dataframes()
    assert set(tables) == set(ciagent.tables.KINDS)
    for name, frame in tables.items():
        if len(frame):
            assert set(frame["episode_id"]) == {"ep-7"}, name
    mentions = tables["mentions"]
    assert {"mention_id", "entity_id", "char_start", "char_end", "produced_by"} <= set(mentions)
    assert len(mentions) == sum(len(e.mentions) for e in result.entities)


def test_export_refuses_an_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(ciagent.ConfigError, match=r"\.parquet or \.jsonl"):
        ciagent.export([], tmp_path / "results.csv")


def test_batch_command_writes_the_table_of_every_finished_episode(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    write_episodes(tmp_path / "in", 3)
    table = tmp_path / "results.parquet"
    fake = FakeModel()
    command = ["batch", str(tmp_path / "in"), "--out", str(tmp_path / "out")]
    command += ["--model", reference(fake), "--no-cache", "--table", str(table)]
    done = CliRunner().invoke(app, command)
    assert done.exit_code == 0, done.output
    rows = pd.read_parquet(table)
    results = [
        EpisodeEnrichment.model_validate(json.loads(p.read_text())["result"])
        for p in sorted((tmp_path / "out").glob("ep*.json"))
    ]
    assert rows["kind"].value_counts().to_dict() == {k: n for k, n in _counts(results).items() if n}
    refused = CliRunner().invoke(app, [*command[:-1], str(tmp_path / "results.csv")])
    assert refused.exit_code == 2
    assert ".parquet or .jsonl" in refused.output
