"""The call path every model call goes through: a structured, validated answer, or prose.

An identical earlier request is answered from the response cache. Otherwise litellm carries the
request (any provider, including the embedded and fake ones); instructor asks for JSON matching the
response model's schema and re-asks with the validation errors shown to the model, a bounded number
of times. A prose request (`ModelClient.text`: no schema, for what a small model writes better
free than inside a JSON string) takes the same budget, retry, cache and usage path. Every attempt
is recorded with its usage and cost.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ciagent.budget import BudgetGuard
from ciagent.cache import CachedAnswer, ResponseCache, cache_key
from ciagent.errors import BudgetExceeded, ModelCallError, StructuredOutputError
from ciagent.llm.grammar import without_length_bounds
from ciagent.llm.models import ModelSpec, Served
from ciagent.llm.plain import TOP_LOGPROBS, Prose, Ranked
from ciagent.llm.providers import EMBEDDED_OPTIONS_KEY, litellm_module
from ciagent.llm.reading import DEFAULT_OUTPUT_TOKENS
from ciagent.llm.retry import retrying
from ciagent.llm.usage import CallRecord, Outcome, UsageMeter
from ciagent.prompts import Prompt
from ciagent.routing.registry import Tier
from ciagent.settings import Settings
from ciagent.tokens import token_counter

__all__ = ["PROMPT_SLACK", "ModelClient"]

T = TypeVar("T", bound=BaseModel)
P = TypeVar("P", Prose, Ranked)


# Tokenizers differ: the prompt is counted with tiktoken and held at 1.5 times that, so the
# reservation stays a worst case for the model's own tokenizer.
PROMPT_SLACK = 1.5


class _AttemptLog:
    """instructor hooks for one call: each attempt becomes a CallRecord once its outcome is in."""

    def __init__(self, step: str, spec: ModelSpec, meter: UsageMeter) -> None:
        self.step, self.spec, self.meter = step, spec, meter
        self.attempt = 0
        self.started = time.perf_counter()
        self._pending: tuple[int, int, float] | None = None
        self.prompt_tokens = 0
        self.completion_tokens = 0

    def on_kwargs(self, *args: Any, **kwargs: Any) -> None:
        self.attempt += 1
        self.started = time.perf_counter()

    def on_response(self, response: Any) -> None:
        prompt, completion = _usage(response)
        self._pending = (prompt, completion, time.perf_counter() - self.started)

    def on_parse_error(self, error: Exception, **kwargs: Any) -> None:
        self.finish("invalid", error)

    def failed(self, error: Exception, latency: float) -> None:
        """A request that got no answer (each transient retry is one)."""
        self._pending = (0, 0, latency)
        self.finish("error", error)

    def finish(self, outcome: Outcome, error: BaseException | None = None) -> None:
        """Record the attempt whose response (or failure) is pending, if any."""
        if self._pending is None:
            return
        prompt, completion, latency = self._pending
        self._pending = None
        self.prompt_tokens += prompt
        self.completion_tokens += completion
        self.meter.add(
            CallRecord(
                step=self.step,
                model=self.spec.model_id,
                attempt=self.attempt,
                outcome=outcome,
                prompt_tokens=prompt,
                completion_tokens=completion,
                usd=self.spec.cost(prompt, completion),
                latency_s=round(latency, 4),
                error=_first_line(error) if error is not None else None,
            )
        )


class ModelClient:
    """Structured calls to one model for one run, recorded in a UsageMeter."""

    def __init__(
        self,
        settings: Settings,
        spec: ModelSpec,
        meter: UsageMeter,
        cache: ResponseCache | None = None,
        budget: BudgetGuard | None = None,
    ) -> None:
        self.settings = settings
        self.spec = spec
        self.specs: tuple[ModelSpec, ...] = (spec,)
        self.max_output_tokens = settings.max_output_tokens or DEFAULT_OUTPUT_TOKENS
        self.meter = meter
        self.cache = cache
        self.budget = budget
        self._count = token_counter()

    def _worst_case(self, kwargs: dict[str, Any]) -> tuple[float, int]:
        """(usd, tokens) a request can cost at most: its prompt, generously counted, plus the
        whole completion allowance."""
        text = [str(m.get("content") or "") for m in kwargs.get("messages", [])]
        text.append(json.dumps(kwargs.get("response_format") or ""))
        prompt = int(sum(self._count(t) + 8 for t in text) * PROMPT_SLACK) + 64
        completion = int(kwargs.get("max_tokens") or self.max_output_tokens)
        return self.spec.cost(prompt, completion), prompt + completion

    def _transport(self, litellm: Any, step: str, log: _AttemptLog) -> Callable[..., Any]:
        """litellm.acompletion as instructor calls it: each request retried on transient errors
        (tenacity, Retry-After honoured), each attempt holding its worst case against the budget
        and settling what it really cost, each failed attempt recorded."""

        async def completion(**kwargs: Any) -> Any:
            attempts = retrying(self.settings.max_retries + 1, self.settings.retry_deadline_s)
            async for attempt in attempts:
                with attempt:
                    response = await self._send(litellm, step, log, kwargs)
            return response

        return completion

    def _wire_format(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The request as this deployment's server takes a response schema."""
        response_format = kwargs.get("response_format") or {}
        if self.spec.structured_output != "json_object_schema" or "json_schema" not in (
            response_format.get("type"),
        ):
            return kwargs
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        # Length bounds expand into grammars this server's converter cannot build; the response
        # model still checks them (and re-asks).
        wire = {"type": "json_object", "schema": without_length_bounds(schema)}
        return {**kwargs, "response_format": wire}

    async def _send(self, litellm: Any, step: str, log: _AttemptLog, kwargs: dict[str, Any]) -> Any:
        budget = self.budget
        reservation = None
        if budget is not None:
            usd, tokens = self._worst_case(kwargs)
            reservation = await budget.areserve(
                usd, tokens, f"{step} {self.spec.model_id}", patience_s=self.settings.timeout_s
            )
        started = time.perf_counter()
        try:
            response = await litellm.acompletion(**self._wire_format(kwargs))
        except BaseException as exc:
            if budget is not None and reservation is not None:
                budget.ledger.release(reservation)
            if isinstance(exc, Exception):
                log.failed(exc, time.perf_counter() - started)
            raise
        if budget is not None and reservation is not None:
            prompt, output = _usage(response)
            budget.ledger.settle(reservation, self.spec.cost(prompt, output), prompt + output)
        return response

    def _sampling(self) -> dict[str, Any]:
        return {
            "temperature": self.settings.temperature,
            "max_tokens": self.max_output_tokens,
            "seed": self.settings.seed,
        }

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

    def _cached(self, step: str, key: str, response_model: type[T]) -> T | None:
        if self.cache is None:
            return None
        answer = self.cache.get(key)
        if answer is None:
            return None
        try:
            result = response_model.model_validate(answer.output)
        except ValidationError:
            return None
        self.meter.hit(step, self.spec.model_id)
        return result

    def _extra_body(self) -> dict[str, Any] | None:
        if not self.spec.model_id.startswith("embedded/"):
            return None
        return {
            EMBEDDED_OPTIONS_KEY: {
                "models_dir": str(self.settings.model_files_dir),
                "n_ctx": self.spec.context_window,
                "n_threads": self.settings.embedded_threads,
                "parallel": self.settings.embedded_parallel,
            }
        }

    def next_tier(self, tier: Tier) -> Tier | None:
        """One pinned deployment has no stronger tier to escalate to."""
        return None

    async def served(
        self,
        step: str,
        prompt: Prompt,
        response_model: type[T],
        *,
        min_tier: Tier = Tier.SMALL,
        **values: str,
    ) -> Served[T]:
        """As `structured`, with the deployment that answered."""
        value = await self.structured(step, prompt, response_model, min_tier=min_tier, **values)
        return Served(value, self.spec.name, self.spec.tier)

    async def structured(
        self,
        step: str,
        prompt: Prompt,
        response_model: type[T],
        *,
        min_tier: Tier = Tier.SMALL,
        **values: str,
    ) -> T:
        """Ask for a `response_model`; re-ask on invalid output up to `settings.max_reasks`.

        One pinned deployment serves every tier asked (`min_tier` matters to a RoutedClient).

        An identical earlier request (same model, messages, schema, sampling and prompt version)
        is answered from the cache, with no model request.
        """
        messages = prompt.messages(**values)
        key = self._key(prompt, messages, _schema(response_model), self._sampling())
        cached = self._cached(step, key, response_model)
        if cached is not None:
            return cached
        result = await self._ask(step, messages, response_model)
        if self.cache is not None:
            self.cache.put(key, result[1])
        return result[0]

    async def text(
        self,
        step: str,
        prompt: Prompt,
        *,
        max_tokens: int,
        min_tier: Tier = Tier.SMALL,
        **values: str,
    ) -> str:
        """Prose: the model's answer as written, at most `max_tokens` long (no schema, no
        re-asks; an empty answer is invalid output). Cached, budgeted, retried and recorded as
        a structured call is."""
        params = {**self._sampling(), "max_tokens": max_tokens}
        answer = await self._plain(step, prompt, params, Prose, values)
        return answer.text

    async def choice(
        self,
        step: str,
        prompt: Prompt,
        options: Sequence[str],
        *,
        min_tier: Tier = Tier.SMALL,
        **values: str,
    ) -> Served[dict[str, float]]:
        """The log-probability of each of `options` (one token each, such as "A" and "B") being
        the answer's first token: one token decoded, its likeliest alternatives read
        (`logprobs`). An option not among them gets `ciagent.llm.plain.FLOOR`; an answer
        without log-probabilities (a server that gives none) is invalid output. Cached,
        budgeted, retried and recorded as a structured call is; with the deployment that
        answered."""
        params = {
            **self._sampling(),
            "max_tokens": 1,
            "logprobs": True,
            "top_logprobs": TOP_LOGPROBS,
        }
        ranked = await self._plain(step, prompt, params, Ranked, values)
        value = {option: ranked.of(option) for option in options}
        return Served(value, self.spec.name, self.spec.tier)

    async def _plain(
        self,
        step: str,
        prompt: Prompt,
        params: dict[str, Any],
        kind: type[P],
        values: dict[str, str],
    ) -> P:
        """An answer without a schema, read from the response as `kind` (None: invalid)."""
        messages = prompt.messages(**values)
        key = self._key(prompt, messages, {}, params)
        cached = self._cached(step, key, kind)
        if cached is not None:
            return cached
        answer, recorded = await self._ask_plain(step, messages, params, kind)
        if self.cache is not None:
            self.cache.put(key, recorded)
        return answer

    async def _ask_plain(
        self, step: str, messages: list[dict[str, str]], params: dict[str, Any], kind: type[P]
    ) -> tuple[P, CachedAnswer]:
        from openai import OpenAIError

        litellm = litellm_module()
        log = _AttemptLog(step, self.spec, self.meter)
        log.on_kwargs()
        kwargs = {**self._request_kwargs(), **params, "model": self.spec.model_id}
        try:
            response = await self._transport(litellm, step, log)(messages=messages, **kwargs)
        except (OpenAIError, TimeoutError) as exc:
            raise ModelCallError(self.spec.model_id, _first_line(exc)) from exc
        log.on_response(response)
        answer = kind.read(response)
        if answer is None:
            error = StructuredOutputError(self.spec.model_id, kind.missing, attempts=1)
            log.finish("invalid", error)
            raise error
        log.finish("ok")
        recorded = CachedAnswer(
            output=answer.model_dump(),
            model=self.spec.model_id,
            prompt_tokens=log.prompt_tokens,
            completion_tokens=log.completion_tokens,
        )
        return answer, recorded

    def _request_kwargs(self) -> dict[str, Any]:
        """What every request to this deployment carries besides its messages and sampling."""
        kwargs: dict[str, Any] = {"timeout": self.settings.timeout_s, "num_retries": 0}
        extra = self._extra_body()
        if extra is not None:
            kwargs["extra_body"] = extra
        if self.spec.api_base:
            kwargs["api_base"] = self.spec.api_base
        if self.spec.api_key_env:
            # Read at the moment of the call, passed to litellm only: never cached or logged.
            kwargs["api_key"] = os.environ.get(self.spec.api_key_env, "")
        return kwargs

    async def _ask(
        self, step: str, messages: list[dict[str, str]], response_model: type[T]
    ) -> tuple[T, CachedAnswer]:
        litellm = litellm_module()
        import instructor
        from instructor.core.exceptions import InstructorError
        from instructor.core.hooks import Hooks
        from openai import OpenAIError

        log = _AttemptLog(step, self.spec, self.meter)
        hooks = Hooks()
        hooks.on("completion:kwargs", log.on_kwargs)
        hooks.on("completion:response", log.on_response)
        hooks.on("parse:error", log.on_parse_error)
        client: Any = instructor.from_litellm(
            self._transport(litellm, step, log), mode=instructor.Mode.JSON_SCHEMA
        )
        kwargs: dict[str, Any] = {**self._sampling(), **self._request_kwargs()}
        try:
            result: T = await client.chat.completions.create(
                model=self.spec.model_id,
                messages=messages,
                response_model=_prepared(response_model),
                max_retries=_reasks(self.settings.max_reasks),
                hooks=hooks,
                **kwargs,
            )
        except (InstructorError, OpenAIError, TimeoutError, BudgetExceeded) as exc:
            log.finish("invalid", exc)
            refused = _budget_refusal(exc)
            if refused is not None:
                raise refused from None
            raise _call_error(self.spec.model_id, exc, log.attempt) from exc
        log.finish("ok")
        answer = CachedAnswer(
            output=result.model_dump(mode="json"),
            model=self.spec.model_id,
            prompt_tokens=log.prompt_tokens,
            completion_tokens=log.completion_tokens,
        )
        return result, answer


@cache
def _prepared(response_model: type[Any]) -> type[Any]:
    """The response model as instructor wraps it for a request, built once per model.
    Handed an unwrapped model, instructor builds the wrapping pydantic class anew on every call
    (a few milliseconds of the client's own time per request)."""
    from instructor.v2.core.function_calls import response_schema

    return response_schema(response_model)


@cache
def _schema(response_model: type[BaseModel]) -> dict[str, Any]:
    """A response model's JSON schema, built once per model (read, never changed)."""
    return response_model.model_json_schema()


def _reasks(limit: int) -> Any:
    """instructor's re-ask loop, bounded by count only. (Given a plain count, instructor also
    stops re-asking once the call's `timeout` has passed since the first attempt, so one slow
    first answer would leave a fixable output unfixed.)"""
    import json

    from instructor.v2.core.errors import AsyncValidationError, ResponseParsingError
    from pydantic import ValidationError
    from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

    return AsyncRetrying(
        stop=stop_after_attempt(limit + 1),
        retry=retry_if_exception_type(
            (ValidationError, json.JSONDecodeError, AsyncValidationError, ResponseParsingError)
        ),
        reraise=True,
    )


def _usage(response: Any) -> tuple[int, int]:
    """(prompt, completion) tokens a litellm response reports; zeros when it reports none."""
    usage = getattr(response, "usage", None)
    return (
        int(getattr(usage, "prompt_tokens", 0) or 0),
        int(getattr(usage, "completion_tokens", 0) or 0),
    )


def _budget_refusal(exc: BaseException) -> BudgetExceeded | None:
    """The BudgetExceeded behind an error, if the budget is why the call stopped."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, BudgetExceeded):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _call_error(model: str, exc: Exception, attempts: int) -> ModelCallError:
    from instructor.core.exceptions import IncompleteOutputException, InstructorRetryException

    failed = (
        getattr(exc, "failed_attempts", None) if isinstance(exc, InstructorRetryException) else None
    )
    if failed:
        last = failed[-1].exception
        return StructuredOutputError(
            model, f"invalid output: {_first_line(last)}", attempts=attempts
        )
    if isinstance(exc, IncompleteOutputException):
        return StructuredOutputError(
            model, "output cut off at max_output_tokens", attempts=max(attempts, 1)
        )
    cause = exc.__cause__ if isinstance(exc, InstructorRetryException) and exc.__cause__ else exc
    return ModelCallError(model, _first_line(cause))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]
