"""`segments`: the parts of an episode that are not its content, for players that skip them and
summaries that leave them out: sponsor reads and ads (with the sponsor), promotion of other shows,
the intro and the outro, each from its first line to its last, with their times.

    from ciagent.signals.segments import ContentSegment
    result = ciagent.enrich("episode.vtt", Settings(extractors=(ContentSegment,)))
    result.extras["segments"]  # [{"kind": "sponsor", "sponsor": ..., "start": ..., "end": ...}]
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field

from ciagent.extractors import Span, extractor, said
from ciagent.types import Transcript

__all__ = ["ContentSegment", "joined", "sponsor_reads"]

# A read opens with its sponsor named ("brought to you by Larder and Company", "supported by
# Brightwell Insurance, which ...") and goes on, in the same voice, while the lines hold an offer.
_OPENER = re.compile(
    r"\b(?:brought to you by|supported by|sponsored by|presented by|thanks to our sponsor,?)\s+"
    r"((?:[A-Z][\w'&.-]*)(?:\s+(?:and|&|of)?\s*[A-Z][\w'&.-]*)*)"
)
_OFFER = re.compile(
    r"\b(?:dot com|\.com|www\.|use (?:the )?code|promo code|free (?:trial|quote|shipping)|"
    r"percent off|% off|sign up|go to|visit|first order|discount)\b",
    re.IGNORECASE,
)
_LONGEST_READ = 6  # lines

Kind = Literal["sponsor", "promotion", "intro", "outro"]


def joined(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chunks' segments in transcript order, one part where two overlap with the same kind
    (a read found without a model and by the model, or named twice) or follow on the next line
    with the same kind and sponsor (a part split across two chunks). Only a sponsor read names a
    sponsor. Each gets its `start` and `end`: the times of its first and last lines."""
    ordered = sorted(items, key=lambda item: item["first"]["segment_ids"][0])
    kept: list[dict[str, Any]] = []
    for item in ordered:
        first = item["first"]["segment_ids"][0]
        last = max(item["last"]["segment_ids"][-1], first)
        before = kept[-1] if kept else None
        if before is not None and before["kind"] == item["kind"]:
            reach = before["last"]["segment_ids"][-1]
            if first <= reach or (first == reach + 1 and _name(before) == _name(item)):
                if last > reach:
                    before["last"] = item["last"]
                    before["end"] = item["last"]["end"]
                continue
        sponsor = item.get("sponsor") if item["kind"] == "sponsor" else None
        start, end = item["first"]["start"], item["last"]["end"]
        kept.append({**item, "sponsor": sponsor, "start": start, "end": end})
    return kept


def sponsor_reads(transcript: Transcript) -> list[dict[str, Any]]:
    """Sponsor reads found with no model call: a line that names who brings or supports the
    show, and the lines after it in the same voice that name the sponsor or hold an offer (a web
    address, a code, a discount)."""
    segments = transcript.segments
    reads: list[dict[str, Any]] = []
    position = 0
    while position < len(segments):
        opened = _OPENER.search(segments[position].text)
        if opened is None:
            position += 1
            continue
        sponsor = opened.group(1).rstrip(".,")
        first_word = sponsor.split()[0].casefold()
        last = position
        for following in range(position + 1, min(position + _LONGEST_READ, len(segments))):
            line = segments[following]
            if line.speaker != segments[position].speaker:
                break
            if not (_OFFER.search(line.text) or first_word in line.text.casefold()):
                break
            last = following
        first_said, last_said = said(transcript, position), said(transcript, last)
        reads.append(
            {"kind": "sponsor", "sponsor": sponsor, "first": first_said, "last": last_said}
        )
        position = last + 1
    return reads


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
    find=sponsor_reads,
    max_items=6,
)
class ContentSegment(BaseModel):
    kind: Kind
    sponsor: str | None = Field(default=None, max_length=80)
    first: Span
    last: Span
