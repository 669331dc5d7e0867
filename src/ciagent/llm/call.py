"""The client steps call: one backend, with its layers composed around it.

    cache -> Structured (re-asks) -> Retrying -> Metered -> Budgeted -> backend

An identical earlier request (same model, messages, schema, sampling and prompt version) is
answered from the response cache, with no request. Otherwise the structured layer asks the
backend for JSON matching the response model's schema and re-asks with the validation errors
shown, a bounded number of times; prose (`text`: no schema, for what a small model writes better
free than inside a JSON string) and one-token choices (`choice`) take the same layers. Every
request is recorded with its usage and cost, under the call's tag.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ciagent import telemetry
from ciagent.budget import BudgetGuard
from ciagent.cache import CachedAnswer, ResponseCache, cache_key
from ciagent.llm.asking import Client, Want
from ciagent.llm.backend import Backend, CallTag, ChatRequest, ChatResponse
from ciagent.llm.layers import Budgeted, Deployed, Metered, Retrying
from ciagent.llm.models import ModelSpec, Served
from ciagent.llm.plain import TOP_LOGPROBS, Prose, Ranked
from ciagent.llm.reading import DEFAULT_OUTPUT_TOKENS
from ciagent.llm.structured import Answered, Structured
from ciagent.llm.usage import UsageMeter
from ciagent.prompts import Prompt
from ciagent.routing.registry import Tier
from ciagent.settings import Settings

__all__ = ["ModelClient", "layered"]

T = TypeVar("T", bound=BaseModel)
P = TypeVar("P", Prose, Ranked)


def layered(
    backend: Backend, settings: Settings, meter: UsageMeter, budget: BudgetGuard | None = None
) -> Backend:
    """`backend` with its budget holds, usage records and retries around it."""
    inner = backend if budget is None else Budgeted(backend, budget)
    return Retrying(Metered(inner, meter), settings.max_retries + 1, settings.retry_deadline_s)


# One token decoded, its likeliest alternatives read (the most OpenAI-compatible servers give).
_CHOICE = {"max_tokens": 1, "logprobs": True, "top_logprobs": TOP_LOGPROBS}


class ModelClient(Client):
    """Calls to one backend for one run, recorded in a UsageMeter."""

    def __init__(
        self,
        settings: Settings,
        backend: Backend,
        meter: UsageMeter,
        cache: ResponseCache | None = None,
        budget: BudgetGuard | None = None,
        *,
        spec: ModelSpec | None = None,
    ) -> None:
        """`spec`: the deployment's facts where it names the backend's model (its name, tier
        and price); the backend's own otherwise."""
        self.settings = settings
        self.backend = backend
        self.spec: ModelSpec = spec or backend.spec
        if spec is not None:
            backend = Deployed(backend, spec)
        self.specs: tuple[ModelSpec, ...] = (self.spec,)
        self.max_output_tokens = settings.max_output_tokens or DEFAULT_OUTPUT_TOKENS
        self.meter = meter
        self.cache = cache
        self.budget = budget
        self.answers = Structured(
            layered(backend, settings, meter, budget), settings.max_reasks, self._invalid
        )

    def _invalid(self, response: ChatResponse, error: BaseException) -> None:
        if response.receipt is not None:
            self.meter.mark_invalid(response.receipt, error)

    def _sampling(self) -> dict[str, Any]:
        return {
            "temperature": self.settings.temperature,
            "max_tokens": self.max_output_tokens,
            "seed": self.settings.seed,
        }

    def _request(self, tag: CallTag, messages: list[dict[str, str]], **params: Any) -> ChatRequest:
        return ChatRequest(
            messages=tuple(messages),
            tag=tag,
            temperature=self.settings.temperature,
            max_tokens=params.get("max_tokens", self.max_output_tokens),
            seed=self.settings.seed,
            top_logprobs=params.get("top_logprobs", 0),
            timeout_s=self.settings.timeout_s,
        )

    def _key(
        self,
        prompt: Prompt,
        messages: list[dict[str, str]],
        schema: dict[str, Any],
        params: dict[str, Any],
    ) -> str:
        return cache_key(
            model=self.spec.model_id,
            api_base=self.spec.api_base,
            messages=messages,
            schema=schema,
            params=params,
            prompt=prompt.ref,
        )

    def _cached(self, tag: CallTag, key: str, response_model: type[T]) -> T | None:
        if self.cache is None:
            return None
        answer = self.cache.get(key)
        if answer is None:
            return None
        try:
            result = response_model.model_validate(answer.output)
        except ValidationError:
            return None
        self.meter.hit(tag, self.spec.model_id)
        telemetry.cache_hit()
        return result

    def _keep(self, key: str, output: dict[str, Any], used: Answered) -> None:
        if self.cache is not None:
            self.cache.put(
                key,
                CachedAnswer(
                    output=output,
                    model=self.spec.model_id,
                    prompt_tokens=used.prompt_tokens,
                    completion_tokens=used.completion_tokens,
                ),
            )

    async def answer(
        self, tag: CallTag, prompt: Prompt, want: Want, min_tier: Tier, values: dict[str, str]
    ) -> Served[Any]:
        """One pinned deployment serves every tier asked (`min_tier` matters to a router)."""
        messages = prompt.messages(**values)
        value: Any
        params = self._sampling()
        if want.options:
            params = {**params, **_CHOICE}
        elif want.response_model is None:
            params = {**params, "max_tokens": want.max_tokens}
        with telemetry.model_call(tag, self.spec, params):
            if want.response_model is not None:
                value = await self._structured(tag, prompt, messages, want.response_model)
            elif want.options:
                ranked = await self._plain(tag, prompt, messages, params, Ranked)
                value = {option: ranked.of(option) for option in want.options}
            else:
                value = (await self._plain(tag, prompt, messages, params, Prose)).text
        return Served(value, self.spec.name, self.spec.tier)

    async def _structured(
        self, tag: CallTag, prompt: Prompt, messages: list[dict[str, str]], response_model: type[T]
    ) -> T:
        key = self._key(prompt, messages, _schema(response_model), self._sampling())
        cached = self._cached(tag, key, response_model)
        if cached is not None:
            return cached
        value, used = await self.answers.parse(self._request(tag, messages), response_model)
        self._keep(key, value.model_dump(mode="json"), used)
        return value

    async def _plain(
        self,
        tag: CallTag,
        prompt: Prompt,
        messages: list[dict[str, str]],
        params: dict[str, Any],
        kind: type[P],
    ) -> P:
        """An answer without a schema, read from the response as `kind`."""
        key = self._key(prompt, messages, {}, params)
        cached = self._cached(tag, key, kind)
        if cached is not None:
            return cached
        request = self._request(tag, messages, **params)
        answer, used = await self.answers.plain(request, kind)
        self._keep(key, answer.model_dump(), used)
        return answer


@cache
def _schema(response_model: type[BaseModel]) -> dict[str, Any]:
    """A response model's JSON schema, built once per model (read, never changed)."""
    return response_model.model_json_schema()
