"""Calls routed over several deployments: the cheapest healthy one that meets the need serves,
and on failure the next in cost order takes over (see `ciagent.routing.policy`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from ciagent.budget import BudgetGuard
from ciagent.cache import ResponseCache
from ciagent.errors import BudgetExceeded, ConfigError, ModelCallError, StructuredOutputError
from ciagent.llm.asking import Client, Want
from ciagent.llm.backend import Backend, CallTag
from ciagent.llm.backends import backend_for, named_backend
from ciagent.llm.call import ModelClient
from ciagent.llm.models import ModelSpec, Served
from ciagent.llm.reading import DEFAULT_OUTPUT_TOKENS
from ciagent.llm.usage import UsageMeter
from ciagent.prompts import Prompt
from ciagent.routing.policy import TIER_RANK, Route, Router
from ciagent.routing.registry import Deployment, Tier
from ciagent.settings import Settings
from ciagent.tokens import token_counter

__all__ = ["RoutedClient", "floor_tier", "step_tier_lines"]

T = TypeVar("T", bound=BaseModel)
A = TypeVar("A")
Ask = Callable[[ModelClient], Awaitable[A]]


def floor_tier(deployments: Sequence[Deployment], wanted: Tier) -> Tier:
    """`wanted` when some deployment is at or above it; else the highest tier deployed."""
    if any(TIER_RANK[d.tier] >= TIER_RANK[wanted] for d in deployments):
        return wanted
    return max((d.tier for d in deployments), key=TIER_RANK.__getitem__, default=Tier.SMALL)


def step_tier_lines(settings: Settings) -> list[str]:
    """What `ciagent models` says of `settings.step_tiers`: each step named, the tier it starts
    on and the deployment that serves it first."""
    if not settings.step_tiers:
        return []
    if settings.model != "auto" or not settings.deployments:
        return [f"step_tiers: one model ({settings.model_name}) serves every step"]
    lines = []
    for step, wanted in settings.step_tiers.items():
        tier = floor_tier(settings.deployments, wanted)
        able = [d for d in settings.deployments if TIER_RANK[d.tier] >= TIER_RANK[tier]]
        first = min(able, key=Router.typical_cost)
        lines.append(f"step {step}: tier {tier.value} and up, first {first.name}")
    return lines


def _backend(deployment: Deployment, settings: Settings) -> Backend:
    """The deployment's backend: the object it was given, or the one its model names."""
    if isinstance(deployment.backend, Backend):
        return deployment.backend
    spec = ModelSpec.of(deployment)
    return named_backend(spec.model_id, settings) or backend_for(spec, settings)


class RoutedClient(Client):
    """The same interface as ModelClient, over a Router's deployments."""

    def __init__(
        self,
        settings: Settings,
        router: Router,
        meter: UsageMeter,
        cache: ResponseCache | None = None,
        budget: BudgetGuard | None = None,
    ) -> None:
        if not router.deployments:
            raise ConfigError("model", "model = 'auto' needs at least one [[deployments]] entry")
        self.settings = settings
        self.router = router
        self.meter = meter
        self.budget = budget
        meter.routing = router.decisions
        self.clients = {
            d.name: ModelClient(
                settings, _backend(d, settings), meter, cache, budget, spec=ModelSpec.of(d)
            )
            for d in router.deployments
        }
        # What every step may assume: the smallest context among the deployments.
        self.specs = tuple(c.spec for c in self.clients.values())
        self.spec = min(self.specs, key=lambda s: s.context_window)
        self._count = token_counter()
        self.max_output_tokens = settings.max_output_tokens or DEFAULT_OUTPUT_TOKENS

    def next_tier(self, tier: Tier) -> Tier | None:
        """The lowest tier above `tier` that some deployment offers (where to escalate)."""
        above = [d.tier for d in self.router.deployments if TIER_RANK[d.tier] > TIER_RANK[tier]]
        return min(above, key=TIER_RANK.__getitem__, default=None)

    def floor(self, tag: CallTag) -> Tier:
        """The tier a call's step starts on (`settings.step_tiers`; the cheapest for a step not
        named)."""
        wanted = self.settings.step_tiers.get(tag.step)  # type: ignore[call-overload]
        return Tier.SMALL if wanted is None else floor_tier(self.router.deployments, wanted)

    async def answer(
        self, tag: CallTag, prompt: Prompt, want: Want, min_tier: Tier, values: dict[str, str]
    ) -> Served[Any]:
        """The cheapest healthy deployment on `min_tier` or above (and the step's own floor)
        that fits the call answers; on failure the next in cost order."""
        output = 1 if want.options else want.max_tokens or self.max_output_tokens
        messages = prompt.messages(**values)
        tokens = sum(self._count(m["content"]) for m in messages) + output
        min_tier = max(min_tier, self.floor(tag), key=TIER_RANK.__getitem__)
        routes = self.router.routes(tag.label, min_tier=min_tier, tokens=tokens)

        async def ask(client: ModelClient) -> Any:
            answer = await client.answer(tag, prompt, want, min_tier, values)
            return answer.value

        return await self._serve(tag.label, routes, tokens, ask)

    async def _serve(
        self,
        step: str,
        routes: list[Route],
        tokens: int,
        ask: Ask[A],
        degrading: bool = False,
    ) -> Served[A]:
        """The first of `routes` that answers. A budget refusal degrades, once, to the cheaper
        deployments of any tier; while degrading, a refusal just moves on to the next. Output
        still invalid after its re-asks moves on only within its tier: asking a stronger tier
        is the caller's decision (escalation), not a fallback."""
        error: BudgetExceeded | ModelCallError | None = None
        ceiling: int | None = None
        for position, route in enumerate(routes):
            name = route.deployment.name
            if ceiling is not None and TIER_RANK[route.deployment.tier] > ceiling:
                self.router.skipped(step, name, "invalid output below: escalation decides")
                continue
            later = [
                r
                for r in routes[position + 1 :]
                if ceiling is None or TIER_RANK[r.deployment.tier] <= ceiling
            ]
            spill = self.router.overflow == "spill" and bool(later)
            if spill and self.router.saturated(name):
                self.router.skipped(step, name, "at max_concurrency: spilled to the next")
                continue
            try:
                async with self.router.slot(name):
                    result = await ask(self.clients[name])
            except BudgetExceeded as exc:
                if degrading:
                    error = exc
                    continue
                cheaper = self._cheaper_than(step, route, tokens)
                if not cheaper:
                    raise
                self.router.skipped(step, name, f"over budget ({exc.cap}): degrading")
                return await self._serve(step, cheaper, tokens, ask, True)
            except StructuredOutputError as exc:
                self.router.failed(step, name, str(exc))
                error = exc
                ceiling = TIER_RANK[route.deployment.tier]
                continue
            except ModelCallError as exc:
                self.router.failed(step, name, str(exc))
                error = exc
                continue
            if degrading:
                reason = "degraded: cheaper, within the budget"
            elif position == 0:
                reason = "cheapest healthy"
            else:
                reason = f"fallback (choice {position + 1})"
            self.router.succeeded(step, name, reason)
            return Served(result, name, route.deployment.tier)
        raise error or ModelCallError("router", f"no deployment can take {step} ({tokens} tokens)")

    def _cheaper_than(self, step: str, route: Route, tokens: int) -> list[Route]:
        ceiling = Router.typical_cost(route.deployment)
        return [
            r
            for r in self.router.routes(step, tokens=tokens)
            if Router.typical_cost(r.deployment) < ceiling
        ]
