"""Content-addressed response cache on diskcache: never pay twice for the same answer.

The key hashes everything that changes the answer: the model id and deployment (api_base), the
messages, the response schema, the sampling parameters and the prompt template's version, plus
the cache format. Never an API key. Values are JSON text: the validated answer and the usage it
cost when it was first paid for.

Cached bytes are data, never code. diskcache unpickles any row whose mode says pickle, so anyone
who can write a shared cache folder could run code as each of its users; `TextDisk` stores and
reads text only, and a row in any other mode (a planted pickle, a foreign writer's entry) is a
miss, recomputed and overwritten. A cache database that SQLite cannot read (random bytes, a
truncated file) is moved aside with a warning and a new one is started: a cache is only ever
worth what it saves.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

import diskcache
from pydantic import BaseModel, ConfigDict, ValidationError

from ciagent.files import move_aside

if TYPE_CHECKING:
    from ciagent.settings import Settings

__all__ = [
    "DEFAULT_MAX_MB",
    "CacheStats",
    "CachedAnswer",
    "ResponseCache",
    "TextDisk",
    "cache_key",
    "response_cache",
]

log = logging.getLogger(__name__)

_FORMAT = "ciagent-cache-1"
DEFAULT_MAX_MB = 2048


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


class TextDisk(diskcache.Disk):  # type: ignore[misc]
    """diskcache's storage, for text keys and values only: nothing is ever unpickled."""

    def put(self, key: Any) -> tuple[Any, bool]:
        if not isinstance(key, str):
            raise TypeError(f"cache keys are text, not {type(key).__name__}")
        return super().put(key)  # type: ignore[no-any-return]

    def get(self, key: Any, raw: bool) -> Any:
        # A key stored other than raw would be a pickle: never read it.
        return super().get(key, raw) if raw else None

    def store(self, value: Any, read: bool, key: Any = diskcache.core.UNKNOWN) -> Any:
        if read or not isinstance(value, str):
            raise TypeError(f"cache values are text, not {type(value).__name__}")
        return super().store(value, read, key=key)

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
        if mode == diskcache.core.MODE_RAW and isinstance(value, str):
            return value
        if mode == diskcache.core.MODE_TEXT and not read:
            return super().fetch(mode, filename, value, read)
        return None  # a pickle, bytes or a number: not an answer this cache wrote


def _open(directory: Path, max_mb: int) -> diskcache.Cache:
    """The cache at `directory`, its least recently used answers dropped past `max_mb`; one
    whose database SQLite cannot read is moved aside (with a warning) and a new one started."""

    def opened() -> diskcache.Cache:
        return diskcache.Cache(
            str(directory),
            disk=TextDisk,
            size_limit=max_mb * 2**20,
            eviction_policy="least-recently-used",
        )

    try:
        cache = opened()
        cache.get("")  # reads the table: a damaged file may open and fail only here
        return cache
    except sqlite3.DatabaseError as exc:
        aside = move_aside(directory / "cache.db")
        log.warning(
            "the response cache at %s could not be read (%s): moved aside to %s, starting anew",
            directory,
            exc,
            aside,
        )
        return opened()


class ResponseCache:
    """A folder of cached answers, shared safely by threads and processes (SQLite underneath).

    It holds at most about `max_mb` megabytes: past that, each write drops the least recently
    used answers (`prune` does it at once, down to the limit)."""

    def __init__(self, directory: Path, max_mb: int = DEFAULT_MAX_MB) -> None:
        if max_mb < 1:
            raise ValueError("max_mb must be at least 1")
        self.directory = directory
        self.max_mb = max_mb
        directory.mkdir(parents=True, exist_ok=True)
        self._cache = _open(directory, max_mb)

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

    def prune(self) -> int:
        """Drop the least recently used answers until the cache is under its limit; returns
        how many were dropped."""
        return int(self._cache.cull())

    def clear(self) -> int:
        """Remove every entry; returns how many there were."""
        return int(self._cache.clear())

    def close(self) -> None:
        self._cache.close()


def response_cache(settings: Settings) -> ResponseCache:
    """The response cache the settings name: cache_dir/responses, capped at cache_max_mb."""
    return ResponseCache(settings.cache_dir / "responses", settings.cache_max_mb)
