"""Results as rows a warehouse loads: one per episode, entity, mention, chapter, topic, quote,
claim and step cost, each with the episode's id (and the run's), every field of the item kept.

`export(results, path)` writes them to one file, a row per item with its `kind`: Parquet
(pyarrow, extra `table`) or JSON Lines, chosen by the file's extension. `rows(results)` gives
them by kind, as `EpisodeEnrichment.to_dataframes()` does in pandas.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ciagent.errors import ConfigError
from ciagent.files import write_atomic

if TYPE_CHECKING:
    from ciagent.types import Entity, EpisodeEnrichment

__all__ = ["KINDS", "check_target", "export", "rows"]

KINDS = ("episodes", "entities", "mentions", "chapters", "topics", "quotes", "claims", "cost")
Row = dict[str, Any]


def _episode(result: EpisodeEnrichment) -> Row:
    provenance = result.provenance.model_dump(mode="json")
    provenance["prompt_versions"] = json.dumps(provenance["prompt_versions"], sort_keys=True)
    cost = result.cost
    return {
        **provenance,
        "schema_version": result.schema_version,
        "status": result.status,
        "summary": result.summary,
        "usd": cost.usd,
        "calls": cost.calls,
        "cache_hits": cost.cache_hits,
        "prompt_tokens": cost.prompt_tokens,
        "completion_tokens": cost.completion_tokens,
        "wall_s": cost.wall_s,
        "failures": [f.model_dump(mode="json") for f in result.failures],
        "verification_report": result.verification.model_dump_json(),
    }


def _placed(keys: Row, items: Iterable[BaseModel]) -> list[Row]:
    """Items in their order: each row its position in the result."""
    return [{**keys, "position": i, **item.model_dump(mode="json")} for i, item in enumerate(items)]


def _mentions(keys: Row, entity: Entity) -> list[Row]:
    about = {
        "entity_id": entity.id,
        "entity": entity.name,
        "type": entity.type.value,
        "verification": entity.verification,
        "produced_by": entity.produced_by,
    }
    return [
        {**keys, "mention_id": m.id, **about, **m.model_dump(mode="json", exclude={"id"})}
        for m in entity.mentions
    ]


def _one(result: EpisodeEnrichment) -> dict[str, list[Row]]:
    """Every kind's rows for one result; each row's `episode_id` and `run_id` first."""
    keys = {"episode_id": result.provenance.episode_id, "run_id": result.provenance.run_id}
    return {
        "episodes": [{**keys, **_episode(result)}],
        "entities": [
            {
                **keys,
                "entity_id": e.id,
                **e.model_dump(mode="json", exclude={"id", "mentions"}),
                "mentions": len(e.mentions),
            }
            for e in result.entities
        ],
        "mentions": [row for e in result.entities for row in _mentions(keys, e)],
        "chapters": _placed(keys, result.chapters),
        "topics": _placed(keys, result.topics),
        "quotes": [
            {**keys, "quote_id": q.id, **q.model_dump(mode="json", exclude={"id"})}
            for q in result.quotes
        ],
        "claims": _placed(keys, result.claims),
        "cost": [
            {**keys, "step": name, **line.model_dump(mode="json")}
            for name, line in result.cost.by_step.items()
        ],
    }


def rows(results: EpisodeEnrichment | Iterable[EpisodeEnrichment]) -> dict[str, list[Row]]:
    """The rows of one result or many, by kind (`KINDS`)."""
    # One result is a BaseModel (which iterates over its fields); many are any other iterable.
    given = [results] if isinstance(results, BaseModel) else list(results)
    by_kind: dict[str, list[Row]] = {kind: [] for kind in KINDS}
    for result in given:
        for kind, found in _one(result).items():
            by_kind[kind].extend(found)
    return by_kind


def _flat(by_kind: dict[str, list[Row]]) -> list[Row]:
    return [{"kind": kind, **row} for kind in KINDS for row in by_kind[kind]]


def check_target(path: str | Path) -> Path:
    """The path, once it is known it can be written: a ConfigError for an extension neither
    Parquet nor JSON Lines, or for Parquet without pyarrow (so a batch fails before it runs)."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".parquet", ".jsonl"):
        raise ConfigError("table", f"{target}: write .parquet or .jsonl, not {suffix or 'no'}")
    if suffix == ".parquet":
        _pyarrow()
    return target


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError(
            "table", "Parquet needs pyarrow: pip install 'ciagent[table]' (or write .jsonl)"
        ) from None
    return pa, pq


def export(results: EpisodeEnrichment | Iterable[EpisodeEnrichment], path: str | Path) -> Path:
    """Write the results' rows to `path`, one row per episode, entity, mention, chapter, topic,
    quote, claim and step cost, its kind in the `kind` column: `.parquet` (extra `table`) or
    `.jsonl`. The file appears whole or not at all. Returns the path."""
    target = check_target(path)
    flat = _flat(rows(results))
    if target.suffix.lower() == ".jsonl":
        write_atomic(target, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in flat))
    else:
        _parquet(flat, target)
    return target


def _parquet(flat: list[Row], target: Path) -> None:
    pa, pq = _pyarrow()
    table = pa.Table.from_pylist(flat, schema=_schema(pa, flat))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, partial)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def _schema(pa: Any, flat: list[Row]) -> Any:
    """One column per key of any row, its type inferred from every value it has (null where a
    kind lacks it; an int column where one row has a float is a float column; a list column
    whose lists are all empty a list of nulls)."""
    values: dict[str, list[Any]] = {}
    empty: dict[str, list[Any]] = {}
    for row in flat:
        for key, value in row.items():
            values.setdefault(key, [])
            if value == []:
                empty.setdefault(key, [value])
            elif value is not None:
                values[key].append(value)
    return pa.schema(
        [(key, pa.infer_type(found or empty.get(key, []))) for key, found in values.items()]
    )
