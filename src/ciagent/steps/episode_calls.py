"""The extractors' episode calls: for each extractor declared with `episode`, one call over
the episode's summary and the items its chunks gave (merged), answered in its `result` shape,
which is then its `extras[name]` (None, with the failure listed, when there is no valid answer).
Counted under `reduce.<name>` in `cost.by_step`."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pydantic import BaseModel

from ciagent.extractors import Extractor
from ciagent.llm.backend import CallTag
from ciagent.routing.registry import Tier
from ciagent.state import EnrichState, EnrichUpdate, RunContext
from ciagent.steps.extract import climbing, extractor_prompt, gathered
from ciagent.types import StepFailure

__all__ = ["TEMPLATE", "episode_calls", "has_episode_calls"]

TEMPLATE = "extract_episode"
_MOST_ITEMS = 60  # items shown to the call, in transcript order
_SPAN_CHARS = 160


def has_episode_calls(state: EnrichState, ctx: RunContext) -> bool:
    return any(e.episode is not None for e in ctx.settings.extractors)


async def episode_calls(state: EnrichState, ctx: RunContext) -> EnrichUpdate:
    wanted = tuple(e for e in ctx.settings.extractors if e.episode is not None)
    items = gathered(wanted, state.get("extract_found", {}), state.get("notes", []))
    summary = state.get("summary", "") or "(none)"
    answers = await asyncio.gather(*(_ask(e, items[e.name], summary, ctx) for e in wanted))
    extras: dict[str, Any] = {}
    failures: list[StepFailure] = []
    for e, answer in zip(wanted, answers, strict=True):
        if isinstance(answer, str):
            failures.append(StepFailure(step=f"reduce.{e.name}", error=answer))
            extras[e.name] = None
        else:
            extras[e.name] = answer.model_dump(mode="json")
    return {"extras": extras, "step_failures": failures}


async def _ask(
    extractor: Extractor, items: list[dict[str, Any]], summary: str, ctx: RunContext
) -> BaseModel | str:
    result, instructions = extractor.result, extractor.episode or ""
    if result is None:
        return "no result model"  # refused when the extractor is declared
    prompt = extractor_prompt(extractor, ctx.settings.prompts_dir, TEMPLATE)
    shown = [_shown(item) for item in items[:_MOST_ITEMS]]

    async def ask(tag: CallTag, tier: Tier) -> BaseModel:
        return await ctx.client.structured(
            tag,
            prompt,
            result,
            min_tier=tier,
            instructions=" ".join(instructions.split()),
            summary=summary,
            count=str(len(items)),
            items="\n".join(shown) or "(none)",
        )

    return await climbing(ctx, CallTag(f"reduce.{extractor.name}"), ask)


def _shown(item: dict[str, Any]) -> str:
    """An item as one JSON line: each grounded span as its words and the time they are said."""
    return json.dumps({k: _plain(v) for k, v in item.items()}, ensure_ascii=False)


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict) and "segment_ids" in value and "text" in value:
        return f"{str(value['text'])[:_SPAN_CHARS]} (at {float(value.get('start') or 0):.0f} s)"
    return value
