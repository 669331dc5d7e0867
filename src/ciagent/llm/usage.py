"""Every model request, attempt by attempt: tokens, cost, latency and outcome."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ciagent.llm.backend import CallTag
from ciagent.types import CostReport, RoutingDecision, UsageLine

__all__ = ["CallRecord", "Outcome", "UsageMeter", "first_line"]

Outcome = Literal["ok", "invalid", "error"]


class CallRecord(BaseModel):
    """One request sent to a model (each reask is its own record)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    step: str  # the tag's label: `notes[3]`, `escalate.notes[3]`
    tag: CallTag
    model: str
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
        self._hits: list[tuple[CallTag, str]] = []
        self._lock = threading.Lock()
        # Routing decisions of the run, when its calls are routed (the router appends to it).
        self.routing: list[RoutingDecision] = []

    def hit(self, tag: CallTag, model: str) -> None:
        """Count an answer served from the cache (no model request)."""
        with self._lock:
            self._hits.append((tag, model))

    @property
    def cache_hits(self) -> int:
        with self._lock:
            return len(self._hits)

    def add(self, record: CallRecord) -> int:
        """Record a request; returns its receipt (to mark it invalid later)."""
        with self._lock:
            self._records.append(record)
            return len(self._records) - 1

    def mark_invalid(self, receipt: int, error: BaseException) -> None:
        """The answer recorded under `receipt` did not validate."""
        with self._lock:
            record = self._records[receipt]
            self._records[receipt] = record.model_copy(
                update={"outcome": "invalid", "error": first_line(error)}
            )

    @property
    def records(self) -> list[CallRecord]:
        with self._lock:
            return list(self._records)

    def report(self, wall_s: float) -> CostReport:
        records = self.records
        with self._lock:
            hits = list(self._hits)
        return CostReport(
            calls=len(records),
            cache_hits=len(hits),
            prompt_tokens=sum(r.prompt_tokens for r in records),
            completion_tokens=sum(r.completion_tokens for r in records),
            usd=round(sum(r.usd for r in records), 10),
            wall_s=round(wall_s, 3),
            by_step=_lines(records, hits, lambda tag, _: tag.kind),
            by_model=_lines(records, hits, lambda _, model: model),
            routing=list(self.routing),
        )


def first_line(error: BaseException) -> str:
    """A failure as one short line: its type and the first line of its message."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 4)


def _lines(
    records: list[CallRecord],
    hits: list[tuple[CallTag, str]],
    key: Callable[[CallTag, str], str],
) -> dict[str, UsageLine]:
    groups: dict[str, list[CallRecord]] = defaultdict(list)
    for record in records:
        groups[key(record.tag, record.model)].append(record)
    hit_counts = Counter(key(tag, model) for tag, model in hits)
    lines: dict[str, UsageLine] = {}
    for name in sorted(set(groups) | set(hit_counts)):
        group = groups.get(name, [])
        latencies = [r.latency_s for r in group]
        lines[name] = UsageLine(
            calls=len(group),
            cache_hits=hit_counts.get(name, 0),
            retries=sum(1 for r in group if r.outcome != "ok"),
            prompt_tokens=sum(r.prompt_tokens for r in group),
            completion_tokens=sum(r.completion_tokens for r in group),
            usd=round(sum(r.usd for r in group), 10),
            latency_p50_s=_percentile(latencies, 0.5),
            latency_p95_s=_percentile(latencies, 0.95),
        )
    return lines
