"""The model registry: deployments with their tier, context, capabilities and price.

A hosted deployment is priced per million input and output tokens. A self-hosted one (vLLM on
GPUs) costs what its GPUs cost: `gpu_hour_usd * gpus` divided by its measured throughput, so both
are compared in $/Mtok. A deployment with no price is a configuration error, never free by accident.
The key of a deployment is named by the environment variable that holds it, never written down.

    [[deployments]]
    name = "qwen-vllm"
    model = "hosted_vllm/Qwen/Qwen2.5-7B-Instruct"
    api_base = "http://10.0.0.5:8000/v1"
    tier = "small"
    context_window = 32768
    max_concurrency = 64
    price = { gpu_hour_usd = 2.5, tokens_per_second = 2400, prompt_tokens_per_second = 20000 }
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "Deployment",
    "GpuPrice",
    "Tier",
    "TokenPrice",
    "embedded_price",
    "probe",
    "probe_base",
]


class Tier(StrEnum):
    SMALL = "small"
    MEDIUM = "medium"
    FRONTIER = "frontier"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TokenPrice(_Frozen):
    """A hosted API's list price."""

    input_usd_per_mtok: float = Field(ge=0)
    output_usd_per_mtok: float = Field(ge=0)

    def per_mtok(self) -> tuple[float, float]:
        return self.input_usd_per_mtok, self.output_usd_per_mtok


class GpuPrice(_Frozen):
    """A self-hosted deployment: its GPUs' hourly price over its measured throughput."""

    gpu_hour_usd: float = Field(gt=0)
    gpus: int = Field(default=1, ge=1)
    tokens_per_second: float = Field(gt=0, description="Measured output tokens per second.")
    prompt_tokens_per_second: float | None = Field(
        default=None, gt=0, description="Measured prompt tokens per second; output rate if unset."
    )

    def per_mtok(self) -> tuple[float, float]:
        hourly = self.gpu_hour_usd * self.gpus
        prompt_rate = self.prompt_tokens_per_second or self.tokens_per_second
        return (
            hourly / (prompt_rate * 3600) * 1e6,
            hourly / (self.tokens_per_second * 3600) * 1e6,
        )


# The embedded models run on this machine's CPUs, so their price is CPU time: a 2-vCPU cloud machine
# at about $0.10/hour, divided by the throughput measured on one (llama.cpp, Q4, 2 threads): prompt
# tokens/s, and output tokens/s under a JSON-schema grammar.
EMBEDDED_MACHINE_USD_PER_HOUR = 0.10
_EMBEDDED_THROUGHPUT = {
    "qwen2.5-coder-0.5b-instruct": (175.0, 20.0),
    "qwen2.5-coder-1.5b-instruct": (65.0, 9.0),
}


def embedded_price(model: str) -> TokenPrice | None:
    """The CPU-time price of `embedded/<name>`, None for any other model id."""
    provider, _, name = model.partition("/")
    rates = _EMBEDDED_THROUGHPUT.get(name) if provider == "embedded" else None
    if rates is None:
        return None
    hourly = EMBEDDED_MACHINE_USD_PER_HOUR
    return TokenPrice(
        input_usd_per_mtok=hourly / (rates[0] * 3600) * 1e6,
        output_usd_per_mtok=hourly / (rates[1] * 3600) * 1e6,
    )


class Deployment(_Frozen):
    name: Annotated[str, Field(min_length=1)]
    model: str = Field(description="litellm model id, e.g. hosted_vllm/..., openai/gpt-4o-mini.")
    api_base: str | None = None
    api_key_env: str | None = Field(
        default=None, description="Environment variable holding the key (never the key)."
    )
    tier: Tier = Tier.SMALL
    context_window: int = Field(gt=0)
    capabilities: frozenset[str] = frozenset({"json_schema"})
    structured_output: Literal["json_schema", "json_object_schema"] = Field(
        default="json_schema",
        description=(
            "How the server takes a response schema: OpenAI's json_schema (vLLM, llama.cpp's "
            "llama-server, hosted APIs), or json_object with a schema (llama-cpp-python's server)."
        ),
    )
    max_concurrency: int | None = Field(default=None, ge=1)
    chunk_tokens: int | None = Field(
        default=None,
        ge=16,
        description="Transcript tokens this model reads well in one notes call; from its context "
        "if unset (see ciagent.llm.reading).",
    )
    price: TokenPrice | GpuPrice | None = None
    backend: object | None = Field(
        default=None,
        exclude=True,
        description="In code only: the backend object serving this deployment (any "
        "`ciagent.llm.backend.Backend`, such as a FakeModel); resolved from `model` if unset.",
    )

    @model_validator(mode="before")
    @classmethod
    def _embedded_priced(cls, data: object) -> object:
        """An embedded model's price is known (CPU time); give one only to override it."""
        if isinstance(data, dict) and data.get("price") is None:
            price = embedded_price(str(data.get("model", "")))
            if price is not None:
                return {**data, "price": price}
        return data

    @model_validator(mode="after")
    def _priced(self) -> Deployment:
        if self.price is None:
            raise ValueError(
                f"deployment {self.name!r} has no price: give input_usd_per_mtok and "
                "output_usd_per_mtok, or gpu_hour_usd and tokens_per_second"
            )
        return self

    def usd_per_mtok(self) -> tuple[float, float]:
        """(input, output) dollars per million tokens."""
        assert self.price is not None  # checked at validation
        return self.price.per_mtok()


def probe(deployment: Deployment, timeout_s: float = 2.0) -> str:
    """A deployment's health, as `ciagent models` shows it: `up`, `down (...)`, or `not probed`
    for a provider's own endpoint (probing it would need the key and cost a request)."""
    if not deployment.api_base:
        return "not probed"
    return probe_base(deployment.api_base, timeout_s)


def probe_base(api_base: str, timeout_s: float = 2.0) -> str:
    """`up` when the server at `api_base` answers `GET /models` (any status under 500), else
    `down (why)`."""
    import httpx

    try:
        answer = httpx.get(api_base.rstrip("/") + "/models", timeout=timeout_s)
    except httpx.HTTPError as exc:
        return f"down ({type(exc).__name__})"
    return "up" if answer.status_code < 500 else f"down ({answer.status_code})"
