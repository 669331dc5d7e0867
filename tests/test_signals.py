"""The built-in extractors on their example episode: `segments` (sponsor reads, promotion, intro,
outro) grounded and joined across chunks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import ciagent
from ciagent import Settings, load_transcript
from ciagent.signals.segments import ContentSegment, joined
from ciagent.testing import FakeModel, FakeRequest, default_answer

EPISODE = Path(__file__).resolve().parents[1] / "examples" / "field-kitchen-ep3.vtt"
# The annotated parts: kind, sponsor, first and last cue (1-based, as the file numbers them).
PARTS = [
    ("intro", None, 1, 2),
    ("sponsor", "Larder and Company", 3, 5),
    ("promotion", None, 17, 18),
    ("sponsor", "Brightwell Insurance", 19, 21),
    ("outro", None, 31, 32),
]
LINE = re.compile(r"^\[(\d+)\] [^:]+: (.*)$", re.MULTILINE)


def annotator(request: FakeRequest) -> dict[str, Any] | str:
    """Answers with the annotated parts the chunk's lines hold, citing a few words of each."""
    if request.schema_name != "SegmentsItems":
        return default_answer(request)
    said = {int(n): text for n, text in LINE.findall(request.prompt)}
    items = []
    for kind, sponsor, first, last in PARTS:
        if first in said and last in said:
            items.append(
                {
                    "kind": kind,
                    "sponsor": sponsor,
                    "first": {"segment_id": first, "text": " ".join(said[first].split()[:4])},
                    "last": {"segment_id": last, "text": " ".join(said[last].split()[-4:])},
                }
            )
    return {"items": items}


def test_segments_are_grounded_with_their_times() -> None:
    transcript = load_transcript(EPISODE)
    settings = Settings(extractors=(ContentSegment,), cache=False)
    result = ciagent.enrich(transcript, settings, model=FakeModel(respond=annotator))
    found = [(s["kind"], s["sponsor"]) for s in result.extras["segments"]]
    assert found == [(kind, sponsor) for kind, sponsor, _, _ in PARTS]
    for part, (_, _, first, last) in zip(result.extras["segments"], PARTS, strict=True):
        assert part["start"] == transcript.segments[first - 1].start
        assert part["end"] == transcript.segments[last - 1].end


def _piece(kind: str, first: int, last: int, sponsor: str | None = None) -> dict[str, Any]:
    def at(segment: int) -> dict[str, Any]:
        return {"segment_ids": [segment], "start": 10.0 * segment, "end": 10.0 * segment + 9}

    return {"kind": kind, "sponsor": sponsor, "first": at(first), "last": at(last)}


def test_a_read_split_across_chunks_is_one_part() -> None:
    pieces = [
        _piece("sponsor", 12, 14, "Brightwell"),
        _piece("intro", 0, 1),
        _piece("sponsor", 15, 16, "brightwell"),  # the next chunk's part of the same read
        _piece("sponsor", 18, 19, "Larder"),  # another sponsor's read
    ]
    parts = joined(pieces)
    assert [(p["kind"], p["start"], p["end"]) for p in parts] == [
        ("intro", 0.0, 19.0),
        ("sponsor", 120.0, 169.0),
        ("sponsor", 180.0, 199.0),
    ]
