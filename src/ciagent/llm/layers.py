"""Wrappers composed around a `Backend`, each a backend itself and each doing one thing:

    Retrying(Metered(Budgeted(backend)))

`Budgeted` holds a request's worst case against the budget caps and settles what it cost;
`Metered` records every request sent (tokens, cost, latency, outcome) in a `UsageMeter`;
`Retrying` sends a request again on a transient error (tenacity: `Retry-After` honoured, else
exponential waits with full jitter; an attempt count and a deadline). A budget refusal is not a
request: it passes through the meter unrecorded and is never retried.
"""

from __future__ import annotations

import json
import time

from ciagent import telemetry
from ciagent.budget import BudgetGuard
from ciagent.errors import BudgetExceeded, CiagentError
from ciagent.llm.backend import Backend, ChatRequest, ChatResponse
from ciagent.llm.models import ModelSpec
from ciagent.llm.retry import as_model_error, retrying
from ciagent.llm.usage import CallRecord, Outcome, UsageMeter, first_line
from ciagent.tokens import TokenCounter, token_counter

__all__ = ["PROMPT_SLACK", "Budgeted", "Deployed", "Metered", "Retrying", "worst_case"]

# Tokenizers differ: the prompt is counted with tiktoken and held at 1.5 times that, so the
# reservation stays a worst case for the model's own tokenizer.
PROMPT_SLACK = 1.5


def worst_case(spec: ModelSpec, request: ChatRequest, count: TokenCounter) -> tuple[float, int]:
    """(usd, tokens) a request can cost at most: its prompt, generously counted, plus the
    whole completion allowance."""
    text = [str(m.get("content") or "") for m in request.messages]
    text.append(json.dumps(request.response_schema or ""))
    prompt = int(sum(count(t) + 8 for t in text) * PROMPT_SLACK) + 64
    return spec.cost(prompt, request.max_tokens), prompt + request.max_tokens


class _Layer:
    """A backend around another: its facts and health are the inner one's."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner

    @property
    def spec(self) -> ModelSpec:
        return self.inner.spec

    async def probe(self) -> bool:
        return await self.inner.probe()


class Deployed(_Layer):
    """A backend as a deployment names it: the deployment's facts (name, tier, price) over the
    backend's own, so usage and budget holds are priced as the deployment says."""

    def __init__(self, inner: Backend, spec: ModelSpec) -> None:
        super().__init__(inner)
        self._spec = spec

    @property
    def spec(self) -> ModelSpec:
        return self._spec

    async def complete(self, request: ChatRequest) -> ChatResponse:
        return await self.inner.complete(request)


class Budgeted(_Layer):
    """Each request's worst case held against the caps before it is sent (waiting, up to the
    request's time limit, for holds of calls in flight to settle), settled at what it really
    cost, released when it fails."""

    def __init__(self, inner: Backend, budget: BudgetGuard) -> None:
        super().__init__(inner)
        self.budget = budget
        self._count = token_counter()

    async def complete(self, request: ChatRequest) -> ChatResponse:
        spec = self.spec
        usd, tokens = worst_case(spec, request, self._count)
        hold = await self.budget.areserve(
            usd, tokens, f"{request.tag} {spec.model_id}", patience_s=request.timeout_s or 600.0
        )
        try:
            response = await self.inner.complete(request)
        except BaseException:
            self.budget.ledger.release(hold)
            raise
        used = response.prompt_tokens + response.completion_tokens
        self.budget.ledger.settle(
            hold, spec.cost(response.prompt_tokens, response.completion_tokens), used
        )
        return response


class Metered(_Layer):
    """Every request sent, recorded: an answer as `ok` (the structured layer marks it invalid
    when it does not validate, by its `receipt`), a failure as `error`, and raised as
    ciagent's typed error (`as_model_error`) when the backend raised something else."""

    def __init__(self, inner: Backend, meter: UsageMeter) -> None:
        super().__init__(inner)
        self.meter = meter

    async def complete(self, request: ChatRequest) -> ChatResponse:
        started = time.perf_counter()
        try:
            response = await self.inner.complete(request)
        except BudgetExceeded:
            raise
        except Exception as error:
            # Above this layer, a failure is ciagent's typed error (a backend of a user's may
            # raise anything).
            typed = error if isinstance(error, CiagentError) else None
            latency = time.perf_counter() - started
            failed = self._record(request, "error", 0, 0, latency, first_line(error))
            self.meter.add(failed)
            telemetry.attempted(failed)
            if typed is not None:
                raise
            raise as_model_error(self.spec.model_id, error) from error
        latency = response.latency_s or time.perf_counter() - started
        record = self._record(
            request, "ok", response.prompt_tokens, response.completion_tokens, latency, None
        )
        telemetry.attempted(record)
        return response.model_copy(update={"receipt": self.meter.add(record)})

    def _record(
        self,
        request: ChatRequest,
        outcome: Outcome,
        prompt: int,
        completion: int,
        latency: float,
        error: str | None,
    ) -> CallRecord:
        return CallRecord(
            step=request.tag.label,
            tag=request.tag,
            model=self.spec.model_id,
            outcome=outcome,
            prompt_tokens=prompt,
            completion_tokens=completion,
            usd=self.spec.cost(prompt, completion),
            latency_s=round(latency, 4),
            error=error,
        )


class Retrying(_Layer):
    """A request sent again on a transient error, `attempts` times at most, none started after
    `deadline_s`."""

    def __init__(self, inner: Backend, attempts: int, deadline_s: float) -> None:
        super().__init__(inner)
        self.attempts, self.deadline_s = attempts, deadline_s

    async def complete(self, request: ChatRequest) -> ChatResponse:
        async for attempt in retrying(self.attempts, self.deadline_s):
            with attempt:
                response = await self.inner.complete(request)
        return response
