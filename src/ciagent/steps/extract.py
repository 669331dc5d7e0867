"""The extractors' step: each extractor asked of every chunk, riding in the notes call
(`riding`: the chunk is read once) or in a call of its own beside it (a batching backend decodes
them together), every span its items cite grounded in the transcript, an item whose span is not
found dropped, and the chunks' items merged as the extractor says (`gathered`, in the merge
step, once the notes are in; `ciagent.extractors`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field, create_model

from ciagent.alignment import locate, mention_at
from ciagent.candidates import Candidate
from ciagent.chunking import chunk_text
from ciagent.errors import BudgetExceeded, ModelCallError
from ciagent.extractors import Extractor, Span, lines, span_fields
from ciagent.guard import untrusted_segments
from ciagent.llm.backend import CallTag
from ciagent.llm.reading import Reading
from ciagent.prompts import Prompt, load_prompt
from ciagent.routing.registry import Tier
from ciagent.settings import Settings
from ciagent.state import EnrichState, EnrichUpdate, NoteResult, RunContext
from ciagent.textnorm import normalize_key
from ciagent.types import Chunk, Entity, StepFailure, Transcript

__all__ = [
    "climbing",
    "extract",
    "extractor_prompt",
    "found_in_notes",
    "gathered",
    "linked",
    "ridden_request",
    "riding",
]

T = TypeVar("T")
PROMPT = "extract"
NOTES_PROMPT = "chunk_notes"
_ITEM_TOKENS = 48  # what one item of an answer takes, about: a few fields and a cited line
_RIDE_SHARE = 2  # riders may take at most half the notes' completion cap


def riding(settings: Settings, reading: Reading) -> tuple[Extractor, ...]:
    """The extractors asked inside the notes call: where the reading rides them, those not
    declared `call="own"`, in order, while their items fit half the notes' answer. A notes
    template of your own (`prompts_dir`) without `${extras}` carries none: each extractor is
    then asked in a call of its own."""
    if not reading.extractors_ride or not _room_for_riders(settings):
        return ()
    room = reading.output_tokens // _RIDE_SHARE
    riders: list[Extractor] = []
    for extractor in settings.extractors:
        need = extractor.max_items * _ITEM_TOKENS
        if extractor.call == "auto" and need <= room:
            riders.append(extractor)
            room -= need
    return tuple(riders)


def _room_for_riders(settings: Settings) -> bool:
    notes = load_prompt(NOTES_PROMPT, settings.prompts_dir)
    return any(f"${marker}" in notes.system + notes.user for marker in ("extras", "{extras}"))


def ridden_request(riders: tuple[Extractor, ...]) -> tuple[str, type[BaseModel] | None]:
    """What the notes prompt adds for the riders (a line each: name, instructions, most items)
    and the `extras` field the notes answer then carries."""
    if not riders:
        return "", None
    lines = "".join(
        f"  - {e.name} (at most {e.max_items}): {' '.join(e.instructions.split())}\n"
        for e in riders
    )
    fields: dict[str, object] = {
        e.name: (list[e.item], Field(default_factory=list, max_length=e.max_items))  # type: ignore[name-defined]
        for e in riders
    }
    model = create_model("NoteExtras", **fields)  # type: ignore[call-overload]
    return f"- extras: under each name below, what it asks for in these lines:\n{lines}", model


def found_in_notes(
    riders: tuple[Extractor, ...], notes: BaseModel, transcript: Transcript, chunk: Chunk
) -> dict[str, list[dict[str, Any]]]:
    """The riders' items of a chunk's notes, grounded and checked as an own call's are."""
    extras = getattr(notes, "extras", None)
    untrusted = untrusted_segments(transcript)
    found: dict[str, list[dict[str, Any]]] = {}
    for e in riders:
        items: list[BaseModel] = getattr(extras, e.name, None) or []
        found[e.name] = _kept(e, items, transcript, chunk, untrusted)
    return found


def _kept(
    e: Extractor,
    items: list[BaseModel],
    transcript: Transcript,
    chunk: Chunk,
    untrusted: frozenset[int],
) -> list[dict[str, Any]]:
    kept = []
    for item in items:
        grounded = _grounded(item, transcript, chunk, untrusted)
        if grounded is None or not _verbatim(e, grounded, transcript):
            continue
        if e.confirm is None or e.confirm(grounded, transcript):
            kept.append({**grounded, "found_by": "model"})
    return kept


def _verbatim(e: Extractor, item: dict[str, Any], transcript: Transcript) -> bool:
    """Whether the item's `verbatim` field is said on the lines it cites (no field: True)."""
    if e.verbatim is None:
        return True
    value = normalize_key(str(item.get(e.verbatim) or ""))
    cited = " ".join(transcript.segments[i].text for i in lines(item))
    return bool(value) and f" {value} " in f" {normalize_key(cited)} "


def gathered(
    extractors: tuple[Extractor, ...],
    found: dict[str, list[dict[str, Any]]],
    notes: list[NoteResult],
) -> dict[str, Any]:
    """Every extractor's result: the items of its own calls and its `find` (`found`) with
    those it gave riding in the notes, merged as it says."""
    every = {e.name: list(found.get(e.name, [])) for e in extractors}
    for result in sorted(notes, key=lambda r: r.chunk_id):
        for name, items in result.found.items():
            every.setdefault(name, []).extend(items)
    return {e.name: _merged(e, every[e.name]) for e in extractors}


def extractor_prompt(
    extractor: Extractor, folder: Path | None = None, template: str = PROMPT
) -> Prompt:
    """The extractor's prompt: ciagent's frame (transcript lines are data) around its
    instructions, named and versioned for it (`extract.<name>`, template and extractor versions;
    `extract_episode.<name>` for its episode call)."""
    frame = load_prompt(template, folder)
    return frame.model_copy(
        update={
            "name": f"{template}.{extractor.name}",
            "version": f"{frame.version}.{extractor.version}",
        }
    )


async def extract(state: EnrichState, ctx: RunContext) -> EnrichUpdate:
    """The extractors' own calls and `find`s; the riders are asked in the notes call."""
    extractors = ctx.settings.extractors
    if not extractors:
        return {}
    transcript, chunks = state["transcript"], state["chunks"]
    riders = riding(ctx.settings, ctx.reading)
    asked = [(e, chunk) for e in extractors if e not in riders for chunk in chunks]
    answers = await asyncio.gather(*(_ask(e, transcript, chunk, ctx) for e, chunk in asked))
    untrusted = untrusted_segments(transcript)
    found: dict[str, list[dict[str, Any]]] = {e.name: [] for e in extractors}
    failures: list[StepFailure] = []
    for (e, chunk), answer in zip(asked, answers, strict=True):
        if isinstance(answer, str):
            failures.append(StepFailure(step=f"extract.{e.name}", chunk_id=chunk.id, error=answer))
            continue
        found[e.name] += _kept(e, answer, transcript, chunk, untrusted)
    for e in extractors:
        if e.find is not None:
            # Found with no model call, never on a line withheld from the model.
            own = e.find(transcript)
            found[e.name] += [
                {**item, "found_by": "rules"} for item in own if not _withheld(item, untrusted)
            ]
    return {"extract_found": found, "extract_failures": failures}


async def _ask(
    extractor: Extractor, transcript: Transcript, chunk: Chunk, ctx: RunContext
) -> list[BaseModel] | str:
    """The chunk's items as the model gives them, or why there are none."""
    prompt = extractor_prompt(extractor, ctx.settings.prompts_dir)

    async def ask(tag: CallTag, tier: Tier) -> list[BaseModel]:
        answer = await ctx.client.structured(
            tag,
            prompt,
            extractor.answer_model(),
            min_tier=tier,
            transcript=chunk_text(transcript, chunk),
            instructions=extractor.instructions.strip(),
            most=str(extractor.max_items),
        )
        items: list[BaseModel] = getattr(answer, "items", [])
        return items

    return await climbing(ctx, CallTag(f"extract.{extractor.name}", chunk.id), ask)


async def climbing(
    ctx: RunContext, tag: CallTag, ask: Callable[[CallTag, Tier], Awaitable[T]]
) -> T | str:
    """What `ask` answers, or why there is no answer. An answer still invalid after its
    re-asks is asked again on the next tier up, when one is deployed (`settings.escalate`), as
    a chunk's notes are."""
    tier = Tier.SMALL
    while True:
        try:
            return await ask(tag, tier)
        except BudgetExceeded as error:
            return str(error)
        except ModelCallError as error:
            above = ctx.client.next_tier(tier) if ctx.settings.escalate else None
            if above is None:
                return str(error)
            tier = above
            tag = replace(tag, tier=above, escalated=True)


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
