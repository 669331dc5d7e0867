"""What a result's provenance says of its run: the episode's id and a hash of the settings
that change the answer."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from enum import Enum
from pathlib import Path

from pydantic import BaseModel

from ciagent.settings import Settings
from ciagent.types import Transcript

__all__ = ["ANSWER_NEUTRAL", "default_episode_id", "settings_hash"]

ANSWER_NEUTRAL = frozenset(
    {
        "admission_wait_s",
        "budget_tokens",
        "budget_usd",
        "cache",
        "cache_dir",
        "cache_max_mb",
        "concurrency",
        "cooldown_s",
        "embedded_parallel",
        "embedded_threads",
        "episode_budget_tokens",
        "episode_budget_usd",
        "failures_to_cool",
        "ledger_keep_days",
        "ledger_path",
        "max_retries",
        "max_transcript_mb",
        "models_dir",
        "nlp_processes",
        "overflow",
        "retry_deadline_s",
        "run_id",
        "timeout_s",
    }
)
"""Settings that change where, how fast or how far a run goes, never what a model is asked or
how its answers are kept: left out of `settings_hash` (a budget that stops a run shows in the
result's status instead). Every other setting, one added later included, is in it."""


def _canonical(value: object) -> object:
    """The value as plain JSON, the same for equal settings in any process."""
    if isinstance(value, Enum):
        return _canonical(value.value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Path):
        return str(value)
    model_id = getattr(getattr(value, "spec", None), "model_id", None)
    if isinstance(model_id, str):  # a backend object (whatever state it keeps): its model
        kind = type(value)
        return f"{kind.__module__}.{kind.__qualname__}:{model_id}"
    if isinstance(value, BaseModel):
        return {name: _canonical(getattr(value, name)) for name in type(value).model_fields}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, type) and issubclass(value, BaseModel):
        return value.model_json_schema()
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    kind = type(value)  # a function, or another object: what it is
    name = getattr(value, "__qualname__", None) or kind.__qualname__
    module = getattr(value, "__module__", None) or kind.__module__
    return f"{module}.{name}"


def settings_hash(settings: Settings) -> str:
    """`sha256:` and the first 16 hex digits of the hash of every setting that changes the
    answer (all but `ANSWER_NEUTRAL`)."""
    kept = {
        name: _canonical(getattr(settings, name))
        for name in sorted(type(settings).model_fields)
        if name not in ANSWER_NEUTRAL
    }
    text = json.dumps(kept, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def default_episode_id(source: str | Path | Transcript) -> str:
    """A file's name without its extension (as a batch names it), or for an in-memory
    transcript the name of its source, or `sha256:` and the start of its content's hash."""
    if isinstance(source, Transcript):
        if source.source:
            return Path(source.source).stem or source.source
        return "sha256:" + source.sha256[:16]
    return Path(source).stem
