"""Scores of the built-in extractors (`ciagent.signals`) against an episode's gold: the parts'
boundaries within a few seconds, labelled passages and people by precision and recall. Each
match is one to one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ciagent.evals.datasets import GoldLabel, GoldPart, GoldPerson
from ciagent.evals.metrics import PRF
from ciagent.textnorm import normalize_key

__all__ = ["SECONDS", "label_prf", "part_boundary_prf", "people_prf"]

SECONDS = 5.0  # a part's start or end counts as found this close to the gold one


def part_boundary_prf(
    predicted: Sequence[dict[str, Any]], gold: Sequence[GoldPart], seconds: float = SECONDS
) -> PRF:
    """Each part's start and end are two boundaries; a predicted boundary matches a gold one
    of a part of the same kind within `seconds`, the nearest free one first."""
    wanted = [(p.kind, t) for p in gold for t in (p.start, p.end)]
    found = [(str(p["kind"]), float(p[t])) for p in predicted for t in ("start", "end")]
    free = list(wanted)
    matched = 0
    for kind, time in found:
        near = [g for g in free if g[0] == kind and abs(g[1] - time) <= seconds]
        if near:
            free.remove(min(near, key=lambda g: abs(g[1] - time)))
            matched += 1
    return PRF.of(matched, len(found), len(wanted))


def _segments(label: dict[str, Any]) -> set[int]:
    return {int(i) for passage in label["passages"] for i in passage["segment_ids"]}


def label_prf(predicted: Sequence[dict[str, Any]], gold: Sequence[GoldLabel]) -> PRF:
    """A predicted label matches a gold one with the same label whose segments it overlaps."""
    free = list(gold)
    matched = 0
    for label in predicted:
        said = _segments(label)
        match = next(
            (g for g in free if g.label == label["label"] and said & set(g.segments)), None
        )
        if match is not None:
            free.remove(match)
            matched += 1
    return PRF.of(matched, len(predicted), len(gold))


def people_prf(predicted: Sequence[dict[str, Any]], gold: Sequence[GoldPerson]) -> PRF:
    """A predicted person matches a gold one with the same name (case and accents aside) and
    role."""
    free = [(normalize_key(p.name), p.role) for p in gold]
    matched = 0
    for person in predicted:
        key = (normalize_key(str(person["name"])), str(person["role"]))
        if key in free:
            free.remove(key)
            matched += 1
    return PRF.of(matched, len(predicted), len(gold))
