"""How long alignment (verification without a model) takes on a 2-hour transcript.

    python tools/bench_alignment.py [--hours 2] [--qmsum-dir ../shared/datasets/qmsum]

Builds a transcript of real meeting speech (the QMSum turns, repeated until it is `--hours` long
at 150 words a minute, 5 seconds a turn), chunks it with the default settings, and gives every
chunk what a model typically returns: 12 entities with up to 3 mentions each (a third said
exactly, a third with ASR-style noise, a third invented) and 2 quotes (one verbatim, one
paraphrased). Then times `ciagent.steps.verify.ground` over all of it, cold (no text folded yet),
and prints the figures.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from pathlib import Path

from ciagent.api import reading
from ciagent.chunking import chunk_transcript
from ciagent.settings import Settings
from ciagent.state import Candidate, MergedEntity, MergedNotes
from ciagent.steps.verify import ground
from ciagent.tokens import token_counter
from ciagent.transcripts import load_transcript
from ciagent.types import Chunk, EntityType, Segment, Transcript

_WORDS_PER_MINUTE = 150
_CAPITALISED = re.compile(r"\b[A-Z][a-z]{3,}\b")


def long_transcript(folder: Path, hours: float) -> Transcript:
    turns = [
        segment.text
        for path in sorted(folder.glob("*.json"))
        for segment in load_transcript(path).segments
    ]
    words_needed = int(hours * 60 * _WORDS_PER_MINUTE)
    segments: list[Segment] = []
    words = 0
    while words < words_needed:
        text = turns[len(segments) % len(turns)]
        segments.append(
            Segment(
                id=len(segments),
                start=len(segments) * 5.0,
                end=len(segments) * 5.0 + 5,
                speaker=f"Speaker {len(segments) % 4}",
                text=text,
            )
        )
        words += len(text.split())
    return Transcript(segments=tuple(segments), timed=True, format="qmsum")


def _noisy(word: str, rng: random.Random) -> str:
    position = rng.randrange(1, len(word) - 1)
    return word[:position] + rng.choice("aeiou") + word[position + 1 :]


def model_like_notes(transcript: Transcript, chunks: list[Chunk], seed: int = 7) -> MergedNotes:
    rng = random.Random(seed)
    entities: list[MergedEntity] = []
    quotes: list[Candidate] = []
    for chunk in chunks:
        ids = list(chunk.segment_ids)
        names = [
            (sid, match.group(0))
            for sid in ids
            for match in _CAPITALISED.finditer(transcript.segments[sid].text)
        ]
        for n in range(12):
            kind = n % 3
            candidates = []
            for _ in range(rng.randint(1, 3)):
                cited = rng.choice(ids) if rng.random() < 0.5 else None
                if kind == 0 and names:
                    sid, name = rng.choice(names)
                    candidates.append(Candidate(chunk_id=chunk.id, segment_id=sid, text=name))
                elif kind == 1 and names:
                    _, name = rng.choice(names)
                    noisy = _noisy(name, rng)
                    candidates.append(Candidate(chunk_id=chunk.id, segment_id=cited, text=noisy))
                else:
                    invented = f"Invented Person {chunk.id} {n}"
                    candidates.append(Candidate(chunk_id=chunk.id, segment_id=cited, text=invented))
            name = candidates[0].text
            entities.append(
                MergedEntity(name=name, type=EntityType.PERSON, aliases=[], candidates=candidates)
            )
        longest = max(ids, key=lambda sid: len(transcript.segments[sid].text))
        said = transcript.segments[longest].text
        quotes.append(Candidate(chunk_id=chunk.id, segment_id=longest, text=said[:200]))
        words = said.split()
        rng.shuffle(words)
        quotes.append(Candidate(chunk_id=chunk.id, segment_id=None, text=" ".join(words[:25])))
    return MergedNotes(entities=entities, topics=[], quotes=quotes, summaries=[])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--qmsum-dir", type=Path, default=Path("../shared/datasets/qmsum"))
    args = parser.parse_args()
    transcript = long_transcript(args.qmsum_dir, args.hours)
    settings = Settings()
    chunks = chunk_transcript(
        transcript, token_counter(), reading(settings).chunk_tokens, settings.chunk_overlap_tokens
    )
    notes = model_like_notes(transcript, chunks)
    candidates = sum(len(e.candidates) for e in notes.entities) + len(notes.quotes)
    started = time.perf_counter()
    grounding = ground(transcript, chunks, notes)
    cold = time.perf_counter() - started
    started = time.perf_counter()
    ground(transcript, chunks, notes)
    warm = time.perf_counter() - started
    words = sum(len(s.text.split()) for s in transcript.segments)
    print(
        f"transcript: {args.hours:g} h, {len(transcript.segments)} segments, {words} words, "
        f"{len(chunks)} chunks"
    )
    print(
        f"items: {len(notes.entities)} entities with {candidates - len(notes.quotes)} mentions, "
        f"{len(notes.quotes)} quotes"
    )
    counts = grounding.entity_counts
    print(
        f"grounded: {counts.grounded} entities, {len(grounding.quotes)} quotes; "
        f"unfound: {len(grounding.unfound_entities)} entities, "
        f"{len(grounding.unfound_quotes)} quotes"
    )
    print(
        f"alignment time: {cold:.3f} s cold, {warm:.3f} s warm "
        f"({cold / candidates * 1e6:.0f} us per item, cold)"
    )


if __name__ == "__main__":
    main()
