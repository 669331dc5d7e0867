"""Chapter summaries a reader can use: every chapter gets one, written as prose, and says where
it came from (`Chapter.summary_from`).

- **The model's**, from the chapter titles' call, when a sentence of it reads as prose: no
  sound of hesitation ("uh"), no word said twice in a row ("there there"), no speaker label or
  line separator copied from the request ("... | PhD C: Mmm."), nothing the chapter never names
  (checked in `ciagent.steps.chapters`). A small model often writes none, or copies a line.
- **Else the chunk summaries'** sentences that are about this chapter (`"notes"`): the model's
  own prose, written once per chunk for the episode summary. A sentence is placed in the
  chapter holding most of the segments BM25 finds for it; it names nothing that chapter never
  says, and the lexical checks (`ciagent.entailment`) find nothing against it on those
  segments. At most two, in order, each used for one chapter only.
- **Else the chapter's most central sentence** (TextRank) of those that read as prose and say
  something (eight words or more, not the show's hosting), in the third person where the
  chapter has one (`"lines"`); never a withheld line.

No model call: this runs at finalize, over what the steps already have.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Sequence

from ciagent import entailment
from ciagent.prose import as_episode, as_prose, central_sentences, is_hosting
from ciagent.retrieval import SegmentIndex, with_neighbours
from ciagent.textnorm import clean, grounded_sentences, normalize_key, shippable, split_sentences
from ciagent.types import Chapter, Transcript
from ciagent.vocabulary import HESITATIONS, STOPWORDS, words

__all__ = ["central_line", "reads_as_prose", "summarized"]

_HITS = 3
_EVIDENCE_LINES = 8
_MOST = 2
_LINE_WORDS = 8
_COPIED_MARK = re.compile(r"\||\[\d+\]|\s\"\s")
_SPOKEN = re.compile(
    r"\b(?:you know|i mean|you see)\b|,\s*(?:yeah|okay|ok|right|like|well|so)\s*,", re.IGNORECASE
)


def reads_as_prose(sentence: str, speakers: Collection[str] = ()) -> bool:
    """Whether a summary sentence reads as written, not as a line copied from a transcript: no
    hesitation, spoken filler ("you know") or word said twice in a row, no copied line number,
    separator or speaker label, not cut off after a function word."""
    said = words(sentence)
    if not said or HESITATIONS.intersection(said) or _COPIED_MARK.search(sentence):
        return False
    if _SPOKEN.search(sentence) or said[-1] in STOPWORDS:  # "you know"; cut off: "... animal is"
        return False
    if any(said[i : i + n] == said[i + n : i + 2 * n] for n in (1, 2) for i in range(len(said))):
        return False  # "there there", "at the at the"
    return not any(f"{speaker}:" in sentence for speaker in speakers)


def _prose(text: str, speakers: Collection[str]) -> list[str]:
    return [
        as_episode(s)
        for s in split_sentences(as_prose(text, speakers))
        if reads_as_prose(s, speakers)
    ]


# A line that opens on a conjunction ("And the budget is ...") reads on without it; one that
# speaks to someone ("you'll get it in your email") is no account of the chapter.
_CONJUNCTION = re.compile(r"^(?:and|but|so|or|because)\s+(?=\w)", re.IGNORECASE)
_ADDRESSED = re.compile(r"\b(?:you|you're|you've|you'll|you'd|your|yours)\b", re.IGNORECASE)


def _without_conjunction(sentence: str) -> str:
    rest = _CONJUNCTION.sub("", sentence)
    return rest[:1].upper() + rest[1:]


def central_line(transcript: Transcript, segment_ids: Sequence[int]) -> str:
    """The most central of these segments' whole sentences that read as prose and say something,
    in the third person where one does ("Guadalupe Island is ...", before "We spent ..."), not
    opening on a conjunction."""
    voices = transcript.speakers
    said = [
        _without_conjunction(prose)
        for sid in segment_ids
        for sentence in split_sentences(clean(transcript.segments[sid].text))
        if (prose := as_prose(sentence, voices, said=True))
    ]
    worded = [
        s
        for s in said
        if reads_as_prose(s, voices)
        and len(s.split()) >= _LINE_WORDS
        and s.endswith((".", "!"))
        and not is_hosting(s)
    ]
    third = [s for s in worded if as_prose(s, voices) and not _ADDRESSED.search(s)]
    pool = third or worded  # better no summary than a scrap ("Not all the small buttons")
    return central_sentences(pool, 1)[0] if pool else ""


def _placed(
    chapters: Sequence[Chapter],
    transcript: Transcript,
    summaries: Sequence[str],
    untrusted: set[int],
) -> dict[int, list[str]]:
    """The chunk summaries' sentences that are about one chapter, by chapter position."""
    chapter_of = {sid: n for n, c in enumerate(chapters) for sid in c.segment_ids}
    trusted = [s for s in transcript.segments if s.id not in untrusted]
    if not trusted:
        return {}
    index = SegmentIndex(trusted)
    said = entailment.said_stems(s.text for s in transcript.segments)
    voices = transcript.speakers
    chapter_words = [
        set(normalize_key(transcript.render(c.segment_ids[0], c.segment_ids[-1])).split())
        for c in chapters
    ]
    placed: dict[int, list[str]] = {}
    last = len(transcript.segments) - 1
    for text in summaries:
        for sentence in _prose(text, voices):
            hits = index.search(sentence, _HITS)
            votes = Counter(chapter_of[h] for h in hits if h in chapter_of)
            if not votes:
                continue
            number, count = votes.most_common(1)[0]
            if count * 2 <= len(hits) or len(placed.get(number, [])) >= _MOST:
                continue
            if sentence in (s for chosen in placed.values() for s in chosen):
                continue
            ids = with_neighbours(hits, last, _EVIDENCE_LINES)
            lines = [transcript.segments[i].text for i in ids]
            speakers = [transcript.segments[i].speaker for i in ids]
            if entailment.check(sentence, lines, said, speakers, voices) is not None:
                continue
            if not shippable(grounded_sentences(sentence, chapter_words[number])):
                continue
            placed.setdefault(number, []).append(sentence)
    return placed


def summarized(
    chapters: Sequence[Chapter],
    transcript: Transcript,
    summaries: Sequence[str],
    untrusted: Sequence[int] = (),
) -> list[Chapter]:
    """The chapters, each with a summary (see the module): `summaries`, the chunk summaries
    the model wrote (none that transcript lines stand in for); `untrusted`, withheld segments."""
    voices = transcript.speakers
    withheld = set(untrusted)
    kept = [" ".join(_prose(c.summary, voices)) for c in chapters]
    placed = {} if all(kept) else _placed(chapters, transcript, summaries, withheld)
    result: list[Chapter] = []
    for number, (chapter, own) in enumerate(zip(chapters, kept, strict=True)):
        if own:
            result.append(chapter.model_copy(update={"summary": own, "summary_from": "model"}))
            continue
        if number in placed:
            summary = " ".join(placed[number])
            result.append(chapter.model_copy(update={"summary": summary, "summary_from": "notes"}))
            continue
        line = central_line(transcript, [i for i in chapter.segment_ids if i not in withheld])
        result.append(
            chapter.model_copy(update={"summary": line, "summary_from": "lines" if line else None})
        )
    return result
