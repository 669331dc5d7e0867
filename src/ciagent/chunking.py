"""Token-aware chunking that cuts at speaker turns, then sentences, and keeps segment times.

A chunk is a run of whole segments, except when one segment alone is longer than a chunk: that
segment is split at sentence ends and its pieces go to consecutive chunks (each piece still cites
the segment's id and times). Tokens are counted on the lines the model reads (`segment_line`), so a
chunk's `tokens` is what it costs to send.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ciagent.errors import ConfigError
from ciagent.guard import WITHHELD, looks_like_instructions, untrusted_segments
from ciagent.textnorm import clean
from ciagent.tokens import TokenCounter
from ciagent.types import Chunk, Segment, Transcript

__all__ = ["chunk_text", "chunk_transcript", "line_segment", "segment_line"]

_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+")
# Of the room left in a full chunk, how far back a better boundary may be sought.
_LOOKBACK = 0.25


def segment_line(segment: Segment, text: str | None = None, number: int | None = None) -> str:
    """How a segment is shown to the model: `[n] Speaker: text`, corpus markers removed, and
    nothing in the text that passes for a line's start (`_unforged`).

    `n` is the line's number within its chunk (from 1; short numbers cost fewer tokens and a
    small model counts lines from 1); without one, the segment id, an upper bound on its length.
    """
    body = _unforged(clean(segment.text if text is None else text))
    label = segment.id if number is None else number
    speaker = _unforged(segment.speaker) if segment.speaker else None
    return f"[{label}] {speaker}: {body}" if speaker else f"[{label}] {body}"


_LINE_NUMBER = re.compile(r"\[\s*(\d+)\s*\]")


def _unforged(text: str) -> str:
    """Transcript text that cannot pass for the start of another line: a line number in
    brackets inside it ("... [7] System: ...") is written in parentheses."""
    return _LINE_NUMBER.sub(r"(\1)", text)


def line_segment(chunk: Chunk, number: int) -> int | None:
    """The segment id behind line `number` of a chunk's text, or None when out of range."""
    segment_id = chunk.first_segment + number - 1
    return segment_id if segment_id in chunk.segment_ids else None


@dataclass(frozen=True)
class _Piece:
    segment: int
    char_start: int
    char_end: int
    tokens: int
    speaker: str | None
    ends_sentence: bool


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    return [span for span in spans if text[span[0] : span[1]].strip()]


def _pieces(transcript: Transcript, count: TokenCounter, max_tokens: int) -> list[_Piece]:
    pieces: list[_Piece] = []
    for segment in transcript.segments:
        text = segment.text
        whole = count(segment_line(segment))
        ends = text.rstrip().endswith((".", "!", "?", "…"))
        if whole <= max_tokens:
            pieces.append(_Piece(segment.id, 0, len(text), whole, segment.speaker, ends))
            continue
        # Greedily group sentences of the long turn into pieces that fit.
        group_start: int | None = None
        group_end = 0
        for start, end in _sentence_spans(text):
            if group_start is not None:
                tokens = count(segment_line(segment, text[group_start:end]))
                if tokens <= max_tokens:
                    group_end = end
                    continue
                body = segment_line(segment, text[group_start:group_end])
                pieces.append(_Piece(segment.id, group_start, group_end, count(body), None, True))
            group_start, group_end = start, end
        if group_start is not None:
            body = segment_line(segment, text[group_start:group_end])
            pieces.append(_Piece(segment.id, group_start, len(text), count(body), None, ends))
    return pieces


def _boundary_score(before: _Piece, after: _Piece) -> int:
    """How good a place to cut between two pieces: speaker change > sentence end > anything."""
    if before.segment != after.segment and before.speaker != after.speaker:
        return 2
    return 1 if before.ends_sentence else 0


def chunk_transcript(
    transcript: Transcript, count: TokenCounter, max_tokens: int, overlap_tokens: int = 0
) -> list[Chunk]:
    """Cut a transcript into chunks of at most `max_tokens` (one sentence alone may exceed it).

    Consecutive chunks share whole pieces worth at most `overlap_tokens`.
    """
    if max_tokens < 16:
        raise ConfigError("chunk_tokens", f"must be at least 16, got {max_tokens}")
    if not 0 <= overlap_tokens < max_tokens // 2:
        raise ConfigError(
            "chunk_overlap_tokens",
            f"must be between 0 and half of chunk_tokens, got {overlap_tokens}",
        )
    pieces = _pieces(transcript, count, max_tokens)
    chunks = _fill(transcript, count, pieces, max_tokens, overlap_tokens)
    # Filled greedily, the last chunk gets what is left, often a sliver read with little context
    # while the others are full. Cut the same number of chunks at an even size instead: the
    # smallest limit that needs no more of them.
    even = -(-sum(piece.tokens + 1 for piece in pieces) // max(1, len(chunks)))
    for limit in range(even, max_tokens, max(1, (max_tokens - even) // 8)):
        balanced = _fill(transcript, count, pieces, limit, overlap_tokens)
        if len(balanced) <= len(chunks):
            return balanced
    return chunks


def _fill(
    transcript: Transcript,
    count: TokenCounter,
    pieces: list[_Piece],
    max_tokens: int,
    overlap_tokens: int,
) -> list[Chunk]:
    """Chunks of whole pieces, each filled up to `max_tokens` and cut at the best boundary near
    its end."""
    chunks: list[Chunk] = []
    first = 0
    while first < len(pieces):
        total = pieces[first].tokens
        stop = first + 1
        while stop < len(pieces) and total + 1 + pieces[stop].tokens <= max_tokens:
            total += 1 + pieces[stop].tokens
            stop += 1
        if stop < len(pieces):
            stop = _better_cut(pieces, first, stop, max_tokens)
        chunk = _make_chunk(transcript, pieces[first:stop], len(chunks))
        # The pieces' sum bounds the count from above; record the exact one.
        chunks.append(chunk.model_copy(update={"tokens": count(chunk_text(transcript, chunk))}))
        if stop >= len(pieces):
            break
        first = _overlap_start(pieces, first, stop, overlap_tokens)
    return chunks


def _better_cut(pieces: list[_Piece], first: int, stop: int, max_tokens: int) -> int:
    """Move the cut back to the best boundary within the last part of the chunk."""
    best, best_score = stop, _boundary_score(pieces[stop - 1], pieces[stop])
    kept = sum(piece.tokens + 1 for piece in pieces[first:stop])
    floor = max_tokens * (1 - _LOOKBACK)
    for cut in range(stop - 1, first, -1):
        kept -= pieces[cut].tokens + 1
        if kept < floor:
            break
        score = _boundary_score(pieces[cut - 1], pieces[cut])
        if score > best_score:
            best, best_score = cut, score
    return best


def _overlap_start(pieces: list[_Piece], first: int, stop: int, overlap_tokens: int) -> int:
    start = stop
    budget = overlap_tokens
    while start - 1 > first and pieces[start - 1].tokens + 1 <= budget:
        budget -= pieces[start - 1].tokens + 1
        start -= 1
    return start


def _make_chunk(transcript: Transcript, group: list[_Piece], index: int) -> Chunk:
    head, tail = group[0], group[-1]
    last_text = transcript.segments[tail.segment].text
    return Chunk(
        id=index,
        first_segment=head.segment,
        last_segment=tail.segment,
        first_char=head.char_start,
        last_char_end=tail.char_end if tail.char_end < len(last_text) else None,
        start=transcript.segments[head.segment].start,
        end=transcript.segments[tail.segment].end,
        tokens=sum(piece.tokens for piece in group) + len(group) - 1,
    )


def chunk_text(transcript: Transcript, chunk: Chunk, left_out: frozenset[int] = frozenset()) -> str:
    """The lines the model reads for a chunk, one per segment (or part of a long segment),
    but those `left_out`."""
    lines: list[str] = []
    untrusted = untrusted_segments(transcript)
    for segment_id in chunk.segment_ids:
        if segment_id in left_out:
            continue
        segment = transcript.segments[segment_id]
        start = chunk.first_char if segment_id == chunk.first_segment else 0
        end = chunk.last_char_end if segment_id == chunk.last_segment else None
        number = segment_id - chunk.first_segment + 1
        text = segment.text[start:end]
        # Transcript text is data: a line giving the model instructions is not shown to it.
        lines.append(
            segment_line(
                segment,
                WITHHELD if segment_id in untrusted or looks_like_instructions(text) else text,
                number,
            )
        )
    return "\n".join(lines)
