"""The extractors' step: each extractor asked of every chunk (beside the notes, so a batching
backend decodes them together), every span its items cite grounded in the transcript, an item
whose span is not found dropped, and the chunks' items merged as the extractor says
(`ciagent.extractors`)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ciagent.alignment import locate, mention_at
from ciagent.candidates import Candidate
from ciagent.chunking import chunk_text
from ciagent.errors import BudgetExceeded, ModelCallError
from ciagent.extractors import Extractor, Span, lines, span_fields
from ciagent.guard import untrusted_segments
from ciagent.llm.backend import CallTag
from ciagent.prompts import Prompt, load_prompt
from ciagent.state import EnrichState, EnrichUpdate, RunContext
from ciagent.textnorm import normalize_key
from ciagent.types import Chunk, Entity, StepFailure, Transcript

__all__ = ["extract", "extractor_prompt", "linked"]

PROMPT = "extract"


def extractor_prompt(extractor: Extractor, folder: Path | None = None) -> Prompt:
    """The extractor's prompt: ciagent's frame (transcript lines are data) around its
    instructions, named and versioned for it (`extract.<name>`, template and extractor versions)."""
    frame = load_prompt(PROMPT, folder)
    return frame.model_copy(
        update={
            "name": f"{PROMPT}.{extractor.name}",
            "version": f"{frame.version}.{extractor.version}",
        }
    )


async def extract(state: EnrichState, ctx: RunContext) -> EnrichUpdate:
    extractors = ctx.settings.extractors
    if not extractors:
        return {}
    transcript, chunks = state["transcript"], state["chunks"]
    asked = [(e, chunk) for e in extractors for chunk in chunks]
    answers = await asyncio.gather(*(_ask(e, transcript, chunk, ctx) for e, chunk in asked))
    untrusted = untrusted_segments(transcript)
    found: dict[str, list[dict[str, Any]]] = {e.name: [] for e in extractors}
    failures: list[StepFailure] = []
    for (e, chunk), answer in zip(asked, answers, strict=True):
        if isinstance(answer, str):
            failures.append(StepFailure(step=f"extract.{e.name}", chunk_id=chunk.id, error=answer))
            continue
        for item in answer:
            grounded = _grounded(item, transcript, chunk, untrusted)
            if grounded is not None and (e.confirm is None or e.confirm(grounded, transcript)):
                found[e.name].append({**grounded, "found_by": "model"})
    for e in extractors:
        if e.find is not None:
            # Found with no model call, never on a line withheld from the model.
            own = e.find(transcript)
            found[e.name] += [
                {**item, "found_by": "rules"} for item in own if not _withheld(item, untrusted)
            ]
    extras = {e.name: _merged(e, found[e.name]) for e in extractors}
    return {"extras": extras, "extract_failures": failures}


async def _ask(
    extractor: Extractor, transcript: Transcript, chunk: Chunk, ctx: RunContext
) -> list[BaseModel] | str:
    """The chunk's items as the model gives them, or why there are none."""
    try:
        answer = await ctx.client.structured(
            CallTag(f"extract.{extractor.name}", chunk.id),
            extractor_prompt(extractor, ctx.settings.prompts_dir),
            extractor.answer_model(),
            transcript=chunk_text(transcript, chunk),
            instructions=extractor.instructions.strip(),
            most=str(extractor.max_items),
        )
    except (ModelCallError, BudgetExceeded) as error:
        return str(error)
    items: list[BaseModel] = getattr(answer, "items", [])
    return items


def _grounded(
    item: BaseModel, transcript: Transcript, chunk: Chunk, untrusted: frozenset[int]
) -> dict[str, Any] | None:
    """The item with each cited span where the transcript says it, or None when one is not
    found (an invented span, or a line withheld from the model)."""
    value = item.model_dump(mode="json")
    for name, many in span_fields(type(item)).items():
        cited = getattr(item, name)
        if cited is None:
            continue
        spans = [_placed(s, transcript, chunk, untrusted) for s in (cited if many else [cited])]
        if any(span is None for span in spans):
            return None
        value[name] = spans if many else spans[0]
    return value


def _placed(
    span: Span, transcript: Transcript, chunk: Chunk, untrusted: frozenset[int]
) -> dict[str, Any] | None:
    line = span.segment_id
    segment = chunk.first_segment + line - 1 if 1 <= line <= len(chunk.segment_ids) else None
    candidate = Candidate(chunk_id=chunk.id, segment_id=segment, text=span.text)
    where = locate(transcript, chunk, candidate, [span.text], untrusted)
    return None if where is None else mention_at(transcript, where).model_dump(mode="json")


def _withheld(item: dict[str, Any], untrusted: frozenset[int]) -> bool:
    return bool(set(lines(item)) & untrusted)


def _merged(extractor: Extractor, items: list[dict[str, Any]]) -> Any:
    """The chunks' items as one list: the extractor's own reducer (its `result` model checks
    an episode-level answer), else one item per key (the first said, its span lists joined
    with the later ones'), else all, in order."""
    if extractor.reduce is not None:
        reduced = extractor.reduce(items)
        if extractor.result is not None:
            return extractor.result.model_validate(reduced).model_dump(mode="json")
        return reduced
    if extractor.key is None:
        return items
    lists = [name for name, many in span_fields(extractor.item).items() if many]
    kept: dict[str, dict[str, Any]] = {}
    for item in items:
        key = normalize_key(str(item.get(extractor.key) or ""))
        first = kept.setdefault(key, item)
        if first is not item:
            for name in lists:
                first[name] = [*(first.get(name) or []), *(item.get(name) or [])]
    return list(kept.values())


def linked(
    extractors: tuple[Extractor, ...], extras: dict[str, Any], entities: list[Entity]
) -> None:
    """Each item of an extractor with `link` gets `entity`: the name of the result's entity its
    linked field names (by name or alias, or as one of its words: "Karim" is Karim Benali), or
    None."""
    forms = [(e.name, {normalize_key(n) for n in (e.name, *e.aliases)}) for e in entities]
    for extractor in extractors:
        if extractor.link is None or not isinstance(extras.get(extractor.name), list):
            continue
        for item in extras[extractor.name]:
            said = normalize_key(str(item.get(extractor.link) or ""))
            exact = next((name for name, keys in forms if said and said in keys), None)
            partial = next(
                (name for name, keys in forms if said and any(said in k.split() for k in keys)),
                None,
            )
            item["entity"] = exact or partial
