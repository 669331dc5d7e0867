"""The one interface under the call path: a `Backend` takes a typed chat request and returns a
typed response.

Everything else is composed around it (`ciagent.llm.layers`: retries, usage records, budget
holds; `ciagent.llm.structured`: JSON answers re-asked until they validate; the response cache in
`ciagent.llm.call`), and the router chooses among several. A backend is a model as this
process reaches it: a hosted API through litellm (`ciagent.llm.backends.hosted`), the embedded
llama.cpp model (`ciagent.llm.backends.local`), a `FakeModel` passed in as an object, or any
object of a user's with a `spec`, `complete` and `probe`:

    class Echo:
        spec = ModelSpec(model_id="echo/1", context_window=8192,
                         input_usd_per_mtok=0.0, output_usd_per_mtok=0.0)

        async def complete(self, request: ChatRequest) -> ChatResponse:
            return ChatResponse(text="{}", model=self.spec.model_id)

        async def probe(self) -> bool:
            return True

    ciagent.enrich("episode.txt", Settings(model=Echo()))

A backend raises `TransientModelError` for what another try may fix (a timeout, a 429 or 5xx, a
dropped connection) and `ModelCallError` for what it will not: errors are typed where they
start, so no layer above digs through exception chains.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from ciagent.errors import ModelCallError
from ciagent.llm.models import ModelSpec
from ciagent.routing.registry import Tier

__all__ = [
    "Backend",
    "CallTag",
    "ChatRequest",
    "ChatResponse",
    "TransientModelError",
]


@dataclass(frozen=True)
class CallTag:
    """What a call is for: the step, the chunk (where the step goes chunk by chunk), the tier
    asked for, whether it is an escalation (the same work asked again of a stronger tier), and
    which part of the step's work it is where that is not a chunk (claims `3-5`, a summary
    level). It travels with the request and keys usage, the cost report and routing decisions."""

    step: str
    chunk: int | None = None
    tier: Tier = Tier.SMALL
    escalated: bool = False
    part: str = ""

    @property
    def label(self) -> str:
        """How records and logs name the call: `notes[3]`, `escalate.notes[3]`, `judge[3-5]`,
        `chapters`."""
        which = str(self.chunk) if self.chunk is not None else self.part
        name = f"{self.step}[{which}]" if which else self.step
        return f"escalate.{name}" if self.escalated else name

    @property
    def kind(self) -> str:
        """The step as the cost report counts it: `notes[3]` and `notes[4]` are `notes`,
        `escalate.notes[3]` is `escalate.notes`."""
        return f"escalate.{self.step}" if self.escalated else self.step

    def __str__(self) -> str:
        return self.label


class ChatRequest(BaseModel):
    """One chat completion to ask of a model.

    `response_schema` (a JSON schema, named `schema_name`) asks for JSON of that shape; None asks
    for prose. `top_logprobs` > 0 asks for that many likeliest first tokens with their
    log-probabilities (a one-token choice)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    messages: tuple[dict[str, Any], ...]
    tag: CallTag
    response_schema: dict[str, Any] | None = None
    schema_name: str | None = None
    temperature: float = Field(default=0.0, ge=0)
    max_tokens: int = Field(gt=0)
    seed: int | None = None
    top_logprobs: int = Field(default=0, ge=0)
    timeout_s: float | None = Field(default=None, gt=0)


class ChatResponse(BaseModel):
    """A model's answer: its text, why it stopped (`length`: cut off at `max_tokens`), the tokens
    it read and wrote as the model counts them, how long it took, who answered, and, when asked,
    the first token's likeliest alternatives (likeliest first)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    model: str
    finish_reason: str = "stop"
    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    latency_s: float = Field(default=0.0, ge=0)
    top_logprobs: tuple[tuple[str, float], ...] = ()
    receipt: int | None = None  # the usage record of this answer (`ciagent.llm.layers.Metered`)


@runtime_checkable
class Backend(Protocol):
    """A model as this process reaches it. `spec`: its static facts (id, context window, price,
    parameter size, how it takes a response schema, the tier it serves)."""

    @property
    def spec(self) -> ModelSpec: ...

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """The answer to one request: no retries, no cache, no budget (layers add those)."""
        ...

    async def probe(self) -> bool:
        """Whether the model answers at all (a health check; may cost a tiny request)."""
        ...


class TransientModelError(ModelCallError):
    """A request that failed for a reason another try may fix. `retry_after`: the seconds the
    server asked to wait, when it said."""

    def __init__(self, model: str, reason: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(model, reason)
