"""Content-addressed response cache on diskcache: never pay twice for the same answer.

The key hashes everything that changes the answer: the model id and deployment (api_base), the
messages, the response schema, the sampling parameters and the prompt template's version, plus
the cache format. Never an API key. Values are JSON text (diskcache stores str as text, so
nothing is pickled): the validated answer and the usage it cost when it was first paid for.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = ["CacheStats", "CachedAnswer", "ResponseCache", "cache_key"]

_FORMAT = "ciagent-cache-1"


class CachedAnswer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    output: dict[str, Any]
    model: str
    prompt_tokens: int
    completion_tokens: int


class CacheStats(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    directory: str
    entries: int
    bytes: int


def cache_key(
    *,
    model: str,
    api_base: str | None,
    messages: list[dict[str, Any]],
    schema: dict[str, Any],
    params: dict[str, Any],
    prompt: str,
) -> str:
    """sha256 over a canonical JSON of everything that changes the answer."""
    material = {
        "format": _FORMAT,
        "model": model,
        "api_base": api_base,
        "messages": messages,
        "schema": schema,
        "params": params,
        "prompt": prompt,
    }
    canonical = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """A folder of cached answers, shared safely by threads and processes (SQLite underneath)."""

    def __init__(self, directory: Path) -> None:
        import diskcache

        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._cache = diskcache.Cache(str(directory), size_limit=2**33, eviction_policy="none")

    def get(self, key: str) -> CachedAnswer | None:
        raw = self._cache.get(key)
        if not isinstance(raw, str):
            return None
        try:
            return CachedAnswer.model_validate_json(raw)
        except ValidationError:
            return None  # a foreign or damaged entry is a miss, then overwritten

    def put(self, key: str, answer: CachedAnswer) -> None:
        self._cache.set(key, answer.model_dump_json())

    def stats(self) -> CacheStats:
        return CacheStats(
            directory=str(self.directory), entries=len(self._cache), bytes=self._cache.volume()
        )

    def clear(self) -> int:
        """Remove every entry; returns how many there were."""
        return int(self._cache.clear())

    def close(self) -> None:
        self._cache.close()
