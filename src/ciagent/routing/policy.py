"""The routing policy: for each call, the cheapest healthy deployment that meets the need.

Deployments are ordered by the cost of a typical call (3 prompt tokens per completion token) at
their prices. A deployment that fails `failures_to_cool` times in a row is cooled down for
`cooldown_s` and tried again only when no healthy one is left. A deployment at its
`max_concurrency` makes a call wait for a slot (`queue`) or go to the next one (`spill`).
Every choice is recorded with its reason.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal

from ciagent.llm.models import ModelSpec
from ciagent.routing.registry import Deployment, Tier
from ciagent.types import RoutingDecision

__all__ = ["TIER_RANK", "Route", "Router"]

Outcome = Literal["chosen", "failed", "skipped"]

TIER_RANK = {Tier.SMALL: 0, Tier.MEDIUM: 1, Tier.FRONTIER: 2}


@dataclass
class _Health:
    failures: int = 0
    cooled_until: float = 0.0


@dataclass(frozen=True)
class Route:
    deployment: Deployment
    spec: ModelSpec


@dataclass
class Router:
    deployments: Sequence[Deployment]
    failures_to_cool: int = 2
    cooldown_s: float = 30.0
    overflow: Literal["queue", "spill"] = "queue"
    clock: Callable[[], float] = time.monotonic
    decisions: list[RoutingDecision] = field(default_factory=list)
    _health: dict[str, _Health] = field(default_factory=dict)
    _slots: dict[str, asyncio.Semaphore] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [d.name for d in self.deployments]
        if len(set(names)) != len(names):
            raise ValueError(f"deployment names must be unique: {names}")
        for deployment in self.deployments:
            self._health[deployment.name] = _Health()
            if deployment.max_concurrency:
                self._slots[deployment.name] = asyncio.Semaphore(deployment.max_concurrency)

    def for_episode(self) -> Router:
        """The same deployments, health and concurrency slots, with a decision log of its own:
        what the episodes of a batch share, so cooldowns and `max_concurrency` hold across
        them while each reports its own routing."""
        twin = copy.copy(self)
        twin.decisions = []
        return twin

    @staticmethod
    def typical_cost(deployment: Deployment) -> float:
        price_in, price_out = deployment.usd_per_mtok()
        return 3 * price_in + price_out

    def routes(
        self, step: str, min_tier: Tier = Tier.SMALL, tokens: int = 0, structured: bool = True
    ) -> list[Route]:
        """Deployments meeting the need, cheapest healthy first, cooling ones last."""
        now = self.clock()
        fit: list[Route] = []
        cooling: list[Route] = []
        for deployment in sorted(self.deployments, key=self.typical_cost):
            reason = None
            if TIER_RANK[deployment.tier] < TIER_RANK[min_tier]:
                reason = f"tier {deployment.tier.value} below {min_tier.value}"
            elif tokens > deployment.context_window:
                reason = f"context {deployment.context_window} < {tokens} tokens"
            elif structured and "json_schema" not in deployment.capabilities:
                reason = "no structured output"
            if reason is not None:
                self._decide(step, deployment.name, "skipped", reason)
                continue
            route = Route(deployment, ModelSpec.of(deployment))
            health = self._health[deployment.name]
            (cooling if health.cooled_until > now else fit).append(route)
        return fit + cooling

    def saturated(self, name: str) -> bool:
        slot = self._slots.get(name)
        return slot is not None and slot.locked()

    @asynccontextmanager
    async def slot(self, name: str) -> AsyncIterator[None]:
        """Hold one of the deployment's concurrency slots (waiting for one if need be)."""
        semaphore = self._slots.get(name)
        if semaphore is None:
            yield
            return
        async with semaphore:
            yield

    def succeeded(self, step: str, name: str, reason: str) -> None:
        self._health[name] = _Health()
        self._decide(step, name, "chosen", reason)

    def failed(self, step: str, name: str, error: str) -> None:
        health = self._health[name]
        health.failures += 1
        if health.failures >= self.failures_to_cool:
            health.cooled_until = self.clock() + self.cooldown_s
            error = f"{error}; cooled down for {self.cooldown_s:g} s"
        self._decide(step, name, "failed", error)

    def skipped(self, step: str, name: str, reason: str) -> None:
        self._decide(step, name, "skipped", reason)

    def _decide(self, step: str, name: str, outcome: Outcome, reason: str) -> None:
        self.decisions.append(
            RoutingDecision(step=step, deployment=name, outcome=outcome, reason=reason[:300])
        )
