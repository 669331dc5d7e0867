"""What steps ask of the model layer, said once: a structured answer, prose, or a one-token
choice, for a call tag and a prompt. A client (`ciagent.llm.call.ModelClient` over one backend,
`ciagent.llm.routed.RoutedClient` over several deployments) answers `Want`s; the four ways of
asking are built on that one method here."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from ciagent.budget import BudgetGuard
from ciagent.llm.backend import CallTag
from ciagent.llm.models import ModelSpec, Served
from ciagent.llm.usage import UsageMeter
from ciagent.prompts import Prompt
from ciagent.routing.registry import Tier

__all__ = ["Client", "Want"]

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class Want:
    """What an answer must be: a `response_model` (JSON, re-asked until it validates), prose of
    at most `max_tokens`, or one of `options` (one token each) with their log-probabilities."""

    response_model: type[BaseModel] | None = None
    max_tokens: int | None = None
    options: tuple[str, ...] = ()


class Client(ABC):
    """The model layer as steps see it. `spec`: what every step may assume (the smallest context
    among the models that may answer); `specs`: all of them. `limit(n)` holds the calls in
    flight through it to `n` (an episode's `settings.concurrency`); the steps' other work is not
    held by it."""

    spec: ModelSpec
    specs: tuple[ModelSpec, ...]
    meter: UsageMeter
    budget: BudgetGuard | None
    _slots: asyncio.Semaphore | None = None

    def limit(self, calls: int) -> None:
        """At most `calls` model calls in flight through this client at once."""
        self._slots = asyncio.Semaphore(calls)

    async def _ask(
        self, tag: CallTag, prompt: Prompt, want: Want, min_tier: Tier, values: dict[str, str]
    ) -> Served[Any]:
        if self._slots is None:
            return await self.answer(tag, prompt, want, min_tier, values)
        async with self._slots:
            return await self.answer(tag, prompt, want, min_tier, values)

    @abstractmethod
    async def answer(
        self, tag: CallTag, prompt: Prompt, want: Want, min_tier: Tier, values: dict[str, str]
    ) -> Served[Any]:
        """The answer to `prompt` filled with `values`, as `want` says, on `min_tier` or above,
        with the deployment that gave it."""

    def next_tier(self, tier: Tier) -> Tier | None:
        """The lowest tier above `tier` that a deployment offers (where to escalate); None for
        one model."""
        return None

    async def served(
        self,
        tag: CallTag,
        prompt: Prompt,
        response_model: type[T],
        *,
        min_tier: Tier = Tier.SMALL,
        **values: str,
    ) -> Served[T]:
        """A `response_model`, re-asked on invalid output up to `settings.max_reasks`, with the
        deployment that answered. An identical earlier request is answered from the cache."""
        answer: Served[T] = await self._ask(tag, prompt, Want(response_model), min_tier, values)
        return answer

    async def structured(
        self,
        tag: CallTag,
        prompt: Prompt,
        response_model: type[T],
        *,
        min_tier: Tier = Tier.SMALL,
        **values: str,
    ) -> T:
        """As `served`, the value alone."""
        answer = await self.served(tag, prompt, response_model, min_tier=min_tier, **values)
        return answer.value

    async def text(self, tag: CallTag, prompt: Prompt, *, max_tokens: int, **values: str) -> str:
        """Prose: the model's answer as written, at most `max_tokens` long (no schema, no
        re-asks; an empty answer is invalid output)."""
        answer = await self._ask(tag, prompt, Want(max_tokens=max_tokens), Tier.SMALL, values)
        return str(answer.value)

    async def choice(
        self,
        tag: CallTag,
        prompt: Prompt,
        options: Sequence[str],
        *,
        min_tier: Tier = Tier.SMALL,
        **values: str,
    ) -> Served[dict[str, float]]:
        """The log-probability of each of `options` (one token each, such as "A" and "B") being
        the answer's first token: one token decoded, its likeliest alternatives read. An option
        not among them gets `ciagent.llm.plain.FLOOR`; an answer without log-probabilities (a
        server that gives none) is invalid output."""
        want = Want(options=tuple(options))
        answer: Served[dict[str, float]] = await self._ask(tag, prompt, want, min_tier, values)
        return answer
