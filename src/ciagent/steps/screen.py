"""The last check on what leaves: nothing in the result speaks to a model with instructions.

Lines that address the model are withheld from it (`ciagent.guard`), but a detector misses some
phrasings, and a model that obeyed one writes the payload in its own words. So the finished
result is screened with the same scorer: a summary sentence that addresses a model with
instructions leaves the summary (its claim stays, `in_summary` false), and such a quote, entity,
topic or chapter summary is dropped; a chapter title falls back to its key words. How many were
taken out is `verification.outputs_withheld`.
"""

from __future__ import annotations

from ciagent.guard import looks_like_instructions
from ciagent.steps.chapters import keyword_title
from ciagent.textnorm import split_sentences
from ciagent.types import Chapter, EpisodeEnrichment

__all__ = ["screen"]


def _chapter(chapter: Chapter) -> tuple[Chapter, int]:
    update: dict[str, object] = {}
    if chapter.summary and looks_like_instructions(chapter.summary):
        update["summary"] = ""
    if looks_like_instructions(chapter.title):
        update["title"] = keyword_title(chapter.keywords)
        update["titled_by"] = None
    return chapter.model_copy(update=update), len(update) - ("titled_by" in update)


def screen(result: EpisodeEnrichment) -> EpisodeEnrichment:
    """The result without what addresses a model with instructions (see the module)."""
    claims = [
        c.model_copy(update={"in_summary": False})
        if c.in_summary and looks_like_instructions(c.text)
        else c
        for c in result.claims
    ]
    out_of_summary = sum(
        a.in_summary and not b.in_summary for a, b in zip(result.claims, claims, strict=True)
    )
    quotes = [q for q in result.quotes if not looks_like_instructions(q.text)]
    entities = [e for e in result.entities if not looks_like_instructions(e.name)]
    topics = [t for t in result.topics if not looks_like_instructions(t.name)]
    screened = [_chapter(c) for c in result.chapters]
    if result.verification.summary_stand_in:  # central lines: one may be a missed injection
        sentences = split_sentences(result.summary)
        kept = [s for s in sentences if not looks_like_instructions(s)]
        summary, cut = " ".join(kept), len(sentences) - len(kept)
    else:
        summary = " ".join(c.text for c in claims if c.in_summary)
        cut = out_of_summary
    withheld = (
        cut
        + len(result.quotes)
        - len(quotes)
        + len(result.entities)
        - len(entities)
        + len(result.topics)
        - len(topics)
        + sum(n for _, n in screened)
    )
    if not withheld:
        return result
    report = result.verification.model_copy(update={"outputs_withheld": withheld})
    return result.model_copy(
        update={
            "claims": claims,
            "summary": summary,
            "quotes": quotes,
            "entities": entities,
            "topics": topics,
            "chapters": [c for c, _ in screened],
            "verification": report,
        }
    )
