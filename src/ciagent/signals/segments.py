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

__all__ = ["ContentSegment", "framing", "joined", "non_content", "parts", "sponsor_reads"]

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
# The show's opening words, its closing words, and another show promoted.
_INTRO = re.compile(
    r"\b(?:you're listening to|welcome (?:back )?to|this is|I'm [A-Z]|every week|each week|"
    r"stay with us|the (?:podcast|show) (?:about|where|that)|on today's episode|"
    r"(?:a )?(?:quick )?note before we (?:start|begin)|content (?:note|warning)|"
    r"this episode (?:talks about|discusses|contains|mentions|includes|deals with|covers))",
    re.IGNORECASE,
)
_OUTRO = re.compile(
    r"\b(?:that's (?:it for|our show|all for)|thanks? (?:you )?for listening|join us next|"
    r"until (?:next time|then)|see you next|leave (?:us )?a (?:review|rating)|subscribe|"
    r"produced by|our producer|our music|music is by)",
    re.IGNORECASE,
)
_PROMOTION = re.compile(
    r"\b(?:check out (?:our |my )?(?:sister |other |friends' )?(?:show|podcast)|sister show|"
    r"new episodes (?:every|each)|wherever you get your podcasts|search for \w+ (?:in|on) "
    r"your podcast app)",
    re.IGNORECASE,
)
_MEETING = re.compile(r"\bmeeting\b", re.IGNORECASE)
_LONGEST_FRAME = 4  # lines of an intro, an outro or a promotion

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


def _run(transcript: Transcript, start: int, step: int, pattern: re.Pattern[str]) -> list[int]:
    """The lines from `start` on (or back, `step` -1) in one voice that each match."""
    segments = transcript.segments
    found: list[int] = []
    at = start
    while 0 <= at < len(segments) and len(found) < _LONGEST_FRAME:
        line = segments[at]
        if line.speaker != segments[start].speaker or not pattern.search(line.text):
            break
        if _OPENER.search(line.text):  # a sponsor read is a part of its own
            break
        found.append(at)
        at += step
    return sorted(found)


def _part(transcript: Transcript, kind: str, lines: list[int]) -> dict[str, Any]:
    first, last = said(transcript, lines[0]), said(transcript, lines[-1])
    return {"kind": kind, "sponsor": None, "first": first, "last": last}


def framing(transcript: Transcript) -> list[dict[str, Any]]:
    """The intro, outro and promotions found with no model call: the opening lines in one voice
    that welcome or introduce the show, the closing ones that sign off or credit it, and lines
    that point to another show."""
    count = len(transcript.segments)
    if count < 2:
        return []
    found: list[dict[str, Any]] = []
    # A meeting's chair welcoming the room opens no show.
    meeting = _MEETING.search(transcript.segments[0].text) is not None
    intro = [] if meeting else _run(transcript, 0, 1, _INTRO)
    outro = [i for i in _run(transcript, count - 1, -1, _OUTRO) if i not in intro]
    if intro:
        found.append(_part(transcript, "intro", intro))
    framed = set(intro) | set(outro)
    position = 0
    while position < count:
        if position not in framed and _PROMOTION.search(transcript.segments[position].text):
            lines = [i for i in _run(transcript, position, 1, _PROMOTION) if i not in framed]
            lines = lines or [position]
            found.append(_part(transcript, "promotion", lines))
            position = lines[-1] + 1
            continue
        position += 1
    if outro:
        found.append(_part(transcript, "outro", outro))
    return found


def parts(transcript: Transcript) -> list[dict[str, Any]]:
    """Every part found with no model call: sponsor reads, the intro, outro and promotions."""
    return sponsor_reads(transcript) + framing(transcript)


def non_content(transcript: Transcript) -> frozenset[int]:
    """The segments of every part `parts` finds: what a summary of the content leaves out."""
    return frozenset(
        i
        for part in parts(transcript)
        for i in range(part["first"]["segment_ids"][0], part["last"]["segment_ids"][-1] + 1)
    )


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
    find=parts,
    max_items=6,
)
class ContentSegment(BaseModel):
    kind: Kind
    sponsor: str | None = Field(default=None, max_length=80)
    first: Span
    last: Span
