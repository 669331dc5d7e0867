"""A `Step` as a graph node: its condition checked, a plain function run in a worker thread,
what it returns read as a state update or as its result (`extras[name]`), and, for a step of a
team's own, an exception kept as the episode's `StepFailure` (see `ciagent.pipeline`); and the
result with what the steps after `finalize` added (`settled`)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable
from typing import Any, Protocol

from langgraph.runtime import Runtime
from pydantic import BaseModel

from ciagent import telemetry
from ciagent.errors import ConfigError
from ciagent.llm.usage import first_line
from ciagent.offload import off_loop
from ciagent.pipeline import Step
from ciagent.state import EnrichState, EnrichUpdate, RunContext
from ciagent.types import EpisodeEnrichment, StepFailure

__all__ = ["RuntimeNode", "node", "settled"]

_STATE_KEYS = frozenset(EnrichState.__annotations__)


class RuntimeNode(Protocol):
    """A node as langgraph calls it: the state, and the run's Runtime by keyword."""

    def __call__(self, state: Any, *, runtime: Runtime[RunContext]) -> Awaitable[EnrichUpdate]: ...


def node(step: Step) -> RuntimeNode:
    """The node that runs `step` (named as the step)."""

    async def run(state: Any, *, runtime: Runtime[RunContext]) -> EnrichUpdate:
        ctx = runtime.context
        if step.when is not None and not step.when(state, ctx):
            return {}
        chunk = state["chunk"].id if step.per_chunk and "chunk" in state else None
        try:
            with telemetry.step(step.name, chunk):
                if inspect.iscoroutinefunction(step.run):
                    returned = await step.run(state, ctx)
                else:
                    # A built-in step's work in ciagent's CPU pool; a team's own step (which
                    # may wait on I/O) in the loop's default executor.
                    offload = asyncio.to_thread if step.contained else off_loop
                    returned = await offload(step.run, state, ctx)
                update = _update(step, returned)
        except Exception as error:
            if not step.contained:
                raise
            failure = StepFailure(step=step.name, error=first_line(error))
            update = {"step_failures": [failure]}
        return update

    run.__name__ = step.name
    return run


def _update(step: Step, returned: object) -> EnrichUpdate:
    if returned is None:
        return {}
    if isinstance(returned, dict):
        unknown = sorted(set(returned) - _STATE_KEYS)
        if unknown:
            raise ConfigError(
                f"steps.{step.name}",
                f"returned keys that are not the run's state: {unknown} (a dict updates the "
                "state; return a pydantic model to put a result in extras)",
            )
        return dict(returned)
    if step.result is not None and not isinstance(returned, step.result):
        returned = step.result.model_validate(returned)
    return {"extras": {step.name: _as_json(returned)}}


def _as_json(value: object) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [_as_json(v) for v in value]
    return value


def settled(final: dict[str, Any], ctx: RunContext) -> EpisodeEnrichment:
    """The run's result with what steps after `finalize` added: their results in `extras`,
    their failures (the episode then `partial`), and the cost of their calls."""
    result: EpisodeEnrichment = final["result"]
    extras = {**result.extras, **final.get("extras", {})}
    failures = [f for f in final.get("step_failures", []) if f not in result.failures]
    meter = ctx.client.meter
    spent = meter.cache_hits + len(meter.records) != result.cost.cache_hits + result.cost.calls
    if extras == result.extras and not failures and not spent:
        return result
    status = "partial" if result.status == "complete" and failures else result.status
    changes: dict[str, Any] = {
        "extras": extras,
        "failures": [*result.failures, *failures],
        "status": status,
        "cost": meter.report(wall_s=time.perf_counter() - ctx.started),
    }
    return result.model_copy(update=changes)
