"""`segments`: the parts of an episode that are not its content, for players that skip them and
summaries that leave them out: sponsor reads and ads (with the sponsor), promotion of other shows,
the intro and the outro, each from its first line to its last, with their times.

    from ciagent.signals.segments import ContentSegment
    result = ciagent.enrich("episode.vtt", Settings(extractors=(ContentSegment,)))
    result.extras["segments"]  # [{"kind": "sponsor", "sponsor": ..., "start": ..., "end": ...}]
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ciagent.extractors import Span, extractor

__all__ = ["ContentSegment", "joined"]

Kind = Literal["sponsor", "promotion", "intro", "outro"]


def joined(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chunks' segments in transcript order, a part split across two chunks (or named twice)
    as one: the same kind and sponsor, overlapping or on the next line. Each gets its `start` and
    `end`: the times of its first and last lines."""
    ordered = sorted(items, key=lambda item: item["first"]["segment_ids"][0])
    kept: list[dict[str, Any]] = []
    for item in ordered:
        first = item["first"]["segment_ids"][0]
        last = max(item["last"]["segment_ids"][-1], first)
        before = kept[-1] if kept else None
        same = before is not None and (before["kind"], _name(before)) == (item["kind"], _name(item))
        if before is not None and same and first <= before["last"]["segment_ids"][-1] + 1:
            if last > before["last"]["segment_ids"][-1]:
                before["last"] = item["last"]
                before["end"] = item["last"]["end"]
            continue
        kept.append({**item, "start": item["first"]["start"], "end": item["last"]["end"]})
    return kept


def _name(item: dict[str, Any]) -> str:
    return str(item.get("sponsor") or "").casefold()


@extractor(
    "segments",
    "The parts of the episode that are not its content. A sponsor read (kind sponsor, with "
    "the sponsor's name) starts where the host says the show is brought to you, supported or "
    "sponsored by someone, and ends after the offer, the web address or the code; promotion "
    "of another show (kind promotion); the show's opening words (kind intro); its closing "
    "words (kind outro). Give each part separately: its first line and its last line, with "
    "three or four words said on each. Leave out the conversation itself.",
    reduce=joined,
    max_items=6,
)
class ContentSegment(BaseModel):
    kind: Kind
    sponsor: str | None = Field(default=None, max_length=80)
    first: Span
    last: Span
