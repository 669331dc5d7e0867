"""Chapters step: boundaries by lexical cohesion (`ciagent.segmentation`), titles by the model.

Boundaries always fall on segment starts and a chapter's start and end are the times of its first
and last segments (turn indices for an untimed transcript); the model never writes a time. One
call names every chapter from its key words and a few representative lines. A title whose words
are not in its chapter or that names something the chapter never mentions, and a summary
sentence naming what the chapter never mentions, are not kept, nor is a title that is filler, a
role or a voice label (`ciagent.vocabulary`): the title falls back to the chapter's noun phrase
(from the NLP pipeline) that says most of its key words, else to the key words; the summary to
empty. A summary is written as prose (`prose.as_prose`): no speaker prefix, no line copied in
the first person.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from ciagent.chunking import segment_line
from ciagent.errors import BudgetExceeded, ModelCallError
from ciagent.guard import untrusted_segments
from ciagent.llm.backend import CallTag
from ciagent.nlp import TextAnalysis
from ciagent.offload import off_loop
from ciagent.prompts import load_prompt
from ciagent.prose import as_prose, without_leading_fillers
from ciagent.retrieval import terms
from ciagent.schemas import ChapterTitles
from ciagent.segmentation import ChapterBounds, chapter_spans
from ciagent.state import ChapterDraft, EnrichState, EnrichUpdate, RunContext
from ciagent.textnorm import (
    content_words,
    grounded_sentences,
    mentions_words,
    normalize_key,
    shippable,
)
from ciagent.types import Chapter, Transcript
from ciagent.vocabulary import (
    HESITATIONS,
    STOPWORDS,
    is_vague,
    meaningful_words,
    not_metadata,
    stems,
)
from ciagent.vocabulary import words as vocabulary_words

__all__ = ["PROMPT", "chapter_titles", "chapters", "keyword_title", "keywords"]

PROMPT = "chapter_titles"
_KEYWORDS = 6
_LINES = 2
_LINE_WORDS = 30
_TITLE_WORDS = 6
_MODEL_TITLE_WORDS = 8  # longer is a sentence, not a title
_LATIN = 0x024F  # the last of the Latin letters (Extended-B)
_LIST_COMMAS = 2  # "Caisson, Washington, Brooklyn, bedrock": the key words, not a title
_SAME_TITLE = 0.75  # share of two titles' words in common that makes them one title


def _same_title(title: set[str], earlier: set[str]) -> bool:
    """Whether two titles (as word stems) say the same: most of their words in common."""
    together = title | earlier
    return bool(together) and len(title & earlier) / len(together) >= _SAME_TITLE


def keywords(transcript: Transcript, spans: list[tuple[int, int]]) -> list[list[str]]:
    """Each chapter's most distinctive words (tf-idf of stems across chapters), as said in the
    lines the model may read (none withheld by `ciagent.guard`)."""
    untrusted = untrusted_segments(transcript)
    texts = [
        [s.text for s in transcript.segments[a : b + 1] if s.id not in untrusted] for a, b in spans
    ]
    stems = [Counter(t for text in chapter for t in terms(text)) for chapter in texts]
    spoken: list[Counter[tuple[str, str]]] = [
        Counter((w[:5], w) for text in chapter for w in content_words(text)) for chapter in texts
    ]
    found_in = Counter(stem for counts in stems for stem in counts)
    chosen: list[list[str]] = []
    for counts, words in zip(stems, spoken, strict=True):
        weight = {
            stem: n * math.log(1 + len(spans) / found_in[stem])
            for stem, n in counts.items()
            if len(stem) > 3
        }
        best = sorted(weight, key=lambda stem: (-weight[stem], stem))[:_KEYWORDS]
        chosen.append(
            [max((w for w in words if w[0] == stem), key=lambda w: words[w])[1] for stem in best]
        )
    return chosen


def _lines(transcript: Transcript, span: tuple[int, int], words: list[str]) -> str:
    """The chapter's lines that say most of its key words, in order, cut to a few words; never
    a line withheld from the model (`ciagent.guard`)."""
    wanted = {w[:5] for w in words}
    untrusted = untrusted_segments(transcript)
    ids = [i for i in range(span[0], span[1] + 1) if i not in untrusted]
    scored = sorted(
        ids, key=lambda i: -len(wanted.intersection(terms(transcript.segments[i].text)))
    )
    picked = sorted(scored[:_LINES])
    shown = []
    for segment_id in picked:
        line = segment_line(transcript.segments[segment_id])
        body = line.split("] ", 1)[1]
        shown.append(" ".join(body.split()[:_LINE_WORDS]))
    return " | ".join(shown)


def _request(transcript: Transcript, spans: list[tuple[int, int]], words: list[list[str]]) -> str:
    return "\n".join(
        f"Chapter {n}. Key words: {', '.join(kw)}.\nLines: {_lines(transcript, span, kw)}"
        for n, (span, kw) in enumerate(zip(spans, words, strict=True), start=1)
    )


_TOKENIZED = re.compile(r"\s+(?=['\u2019]s\b)|(?<=\w) - (?=\w)")


def _written(phrase: str) -> str:
    """A noun phrase as a person writes it: without the hesitation it opens with, and a
    tokenised transcript's "Ericsson 's" and "multi - band" joined up."""
    return _TOKENIZED.sub(
        lambda m: "-" if "-" in m.group(0) else "", without_leading_fillers(phrase)
    )


def _foreign(text: str, letters: set[str]) -> bool:
    """Letters the transcript never uses beyond the Latin alphabets: a small model slipping
    into another script mid-title ("the people who work while the\u5176\u4f59")."""
    return any(c.isalpha() and ord(c) > _LATIN and c not in letters for c in text)


def _titlelike(text: str, speakers: set[str], used: list[set[str]]) -> bool:
    """A noun phrase that can stand as a title: one stretch of words (no blanked marker inside,
    no "uh"), not opening on a function word ("But no screens"), not filler, a role, vague
    ("Small camera") or an earlier chapter's title again."""
    said = vocabulary_words(text)
    return (
        bool(said)
        and "  " not in text
        and said[0] not in STOPWORDS
        and not any(w in HESITATIONS for w in said)
        and not not_metadata(text, speakers)
        and not is_vague(text)
        and not any(_same_title(stems(text), earlier) for earlier in used)
    )


def _phrase_title(
    analysis: TextAnalysis | None,
    span: tuple[int, int],
    words: list[str],
    speakers: set[str],
    used: list[set[str]],
) -> str | None:
    """The chapter's noun phrase that says most of its key words (then one of two to five
    words, the most repeated, the closest to three words), or None without the NLP pipeline or
    such a phrase."""
    if analysis is None:
        return None
    wanted = {w[:5] for w in words}
    phrases = [
        p
        for p in analysis.noun_phrases
        if span[0] <= p.segment_id <= span[1] and 1 <= len(p.text.split()) <= _TITLE_WORDS
    ]
    said = Counter(normalize_key(p.text) for p in phrases)
    best: tuple[tuple[int, bool, int, int], str] | None = None
    for phrase in phrases:
        text = _written(phrase.text)
        content = meaningful_words(text)
        hits = len({w[:5] for w in content} & wanted)
        if not hits or not _titlelike(text, speakers, used):
            continue
        length = len(text.split())
        rank = (hits, 2 <= length <= 5, said[normalize_key(phrase.text)], -abs(length - 3))
        if best is None or rank > best[0]:
            best = (rank, text)
    if best is None:
        return None
    return best[1][:1].upper() + best[1][1:]


def _fallback_title(
    analysis: TextAnalysis | None,
    span: tuple[int, int],
    words: list[str],
    speakers: set[str],
    used: list[set[str]],
) -> str:
    """A title when the model gave none that holds: the chapter's best noun phrase, or its
    key words."""
    phrase = _phrase_title(analysis, span, words, speakers, used)
    return phrase or keyword_title(words)


def keyword_title(words: list[str]) -> str:
    """The last resort for a title: the chapter's first three key words."""
    return ", ".join(words[:3]).capitalize() if words else "Chapter"


async def chapter_titles(state: EnrichState, ctx: RunContext) -> EnrichUpdate:
    """The chapters' bounds and key words, and the titles the model gives them. It needs the
    transcript only, so it runs beside the notes calls (a batching backend decodes them
    together); what the titles must pass is checked with the NLP pipeline's analysis, which
    gives the stand-in titles (`chapters`)."""
    transcript = state["transcript"]
    settings = ctx.settings
    if not settings.chapters or not transcript.segments:
        return {"chapter_draft": ChapterDraft()}

    def drafted() -> tuple[ChapterDraft, str]:
        spans = chapter_spans(transcript, ChapterBounds.of(settings))
        words = keywords(transcript, spans)
        return ChapterDraft(spans=spans, keywords=words), _request(transcript, spans, words)

    draft, request = await off_loop(drafted)
    if ctx.budget_exceeded:
        return {"chapter_draft": draft}
    try:
        answer = await ctx.client.served(
            CallTag("chapters"),
            load_prompt(PROMPT, settings.prompts_dir),
            ChapterTitles,
            chapters=request,
        )
    except (ModelCallError, BudgetExceeded):
        return {"chapter_draft": draft}
    named = {c.number: (c.title, c.summary) for c in answer.value.chapters}
    return {"chapter_draft": draft.model_copy(update={"named": named, "by": answer.deployment})}


def chapters(state: EnrichState, ctx: RunContext) -> EnrichUpdate:
    """The chapters: the model's titles where they hold, stand-in titles where they do not."""
    transcript = state["transcript"]
    draft = state.get("chapter_draft") or ChapterDraft()
    if not draft.spans:
        return {"chapters": []}
    spans, words, named, titled_by = draft.spans, draft.keywords, draft.named, draft.by
    analysis = state.get("analysis")
    speakers = transcript.speakers
    result: list[Chapter] = []
    used: list[set[str]] = []
    letters = {c for segment in transcript.segments for c in segment.text if c.isalpha()}
    for number, ((first, last), kw) in enumerate(zip(spans, words, strict=True), start=1):
        said = set(normalize_key(transcript.render(first, last)).split())
        title, summary = named.get(number, ("", ""))
        title = without_leading_fillers(title)
        # About this chapter, naming nothing (capitalised past its first word) it never says,
        # not an earlier chapter's title again (a small model repeats one for several, or
        # nearly), and no list of the key words it was shown.
        titled = (
            bool(title)
            and not any(_same_title(stems(title), earlier) for earlier in used)
            and title.count(",") < _LIST_COMMAS
            and len(title.split()) <= _MODEL_TITLE_WORDS
            and not _foreign(title, letters)
            and mentions_words(title, said)
            and bool(shippable(grounded_sentences(title, said)))
            and not not_metadata(title, speakers)
            and not is_vague(title)
        )
        if not titled:
            title = _fallback_title(analysis, (first, last), kw, speakers, used)
        used.append(stems(title))
        result.append(
            Chapter(
                title=title,
                summary=shippable(as_prose(grounded_sentences(summary, said), speakers))
                if titled
                else "",
                start=transcript.segments[first].start,
                end=transcript.segments[last].end,
                segment_ids=list(range(first, last + 1)),
                keywords=kw,
                titled_by=titled_by if titled else None,
            )
        )
    ctx.report("chapters")
    return {"chapters": result}
