"""Every model request, attempt by attempt: tokens, cost, latency and outcome."""

from __future__ import annotations

import threading
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ciagent.types import CostReport

__all__ = ["CallRecord", "Outcome", "UsageMeter"]

Outcome = Literal["ok", "invalid", "error"]


class CallRecord(BaseModel):
    """One request sent to a model (each reask is its own record)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    step: str
    model: str
    attempt: int
    outcome: Outcome
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usd: float = 0.0
    latency_s: float = 0.0
    error: str | None = None


class UsageMeter:
    """Thread-safe list of call records for one run, with totals."""

    def __init__(self) -> None:
        self._records: list[CallRecord] = []
        self._cache_hits = 0
        self._lock = threading.Lock()

    def hit(self) -> None:
        """Count an answer served from the cache (no model request)."""
        with self._lock:
            self._cache_hits += 1

    @property
    def cache_hits(self) -> int:
        with self._lock:
            return self._cache_hits

    def add(self, record: CallRecord) -> None:
        with self._lock:
            self._records.append(record)

    @property
    def records(self) -> list[CallRecord]:
        with self._lock:
            return list(self._records)

    def report(self, wall_s: float) -> CostReport:
        records = self.records
        return CostReport(
            calls=len(records),
            cache_hits=self.cache_hits,
            prompt_tokens=sum(r.prompt_tokens for r in records),
            completion_tokens=sum(r.completion_tokens for r in records),
            usd=round(sum(r.usd for r in records), 10),
            wall_s=round(wall_s, 3),
        )
