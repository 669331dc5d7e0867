"""What a model costs and how much it reads: resolved from its litellm id, never assumed free.

The embedded model runs on this machine's CPUs, so its price is CPU time: the hourly price of the
machine divided by its measured throughput, in the same $/Mtok unit as a hosted API. A hosted model
is priced from litellm's cost map (loaded from its local copy). A model with no known price is a
configuration error.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ciagent.errors import ConfigError
from ciagent.routing.registry import Deployment, Tier, embedded_price

__all__ = ["EMBEDDED_PRICING", "ModelSpec", "Served", "resolve_model"]

T = TypeVar("T")

# The default embedded model's price (CPU time, see `ciagent.routing.registry.embedded_price`).
_DEFAULT_PRICE = embedded_price("embedded/qwen2.5-coder-0.5b-instruct")
assert _DEFAULT_PRICE is not None
EMBEDDED_PRICING = {
    "input_usd_per_mtok": _DEFAULT_PRICE.input_usd_per_mtok,
    "output_usd_per_mtok": _DEFAULT_PRICE.output_usd_per_mtok,
}


class ModelSpec(BaseModel):
    """What a call needs to know about its model: id, where it is, its context and price."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_id: str
    context_window: int = Field(gt=0)
    input_usd_per_mtok: float = Field(ge=0)
    output_usd_per_mtok: float = Field(ge=0)
    deployment: str | None = None
    api_base: str | None = None
    api_key_env: str | None = None
    structured_output: str = "json_schema"
    tier: Tier = Tier.SMALL
    chunk_tokens: int | None = None
    parameters_b: float | None = Field(default=None, gt=0)  # None: read from the name if it says

    @classmethod
    def of(cls, deployment: Deployment) -> ModelSpec:
        input_price, output_price = deployment.usd_per_mtok()
        return cls(
            model_id=deployment.model,
            context_window=deployment.context_window,
            input_usd_per_mtok=input_price,
            output_usd_per_mtok=output_price,
            deployment=deployment.name,
            api_base=deployment.api_base,
            api_key_env=deployment.api_key_env,
            structured_output=deployment.structured_output,
            tier=deployment.tier,
            chunk_tokens=deployment.chunk_tokens,
        )

    @property
    def name(self) -> str:
        """The deployment's name, or the model id when it was not named."""
        return self.deployment or self.model_id

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (
            prompt_tokens * self.input_usd_per_mtok + completion_tokens * self.output_usd_per_mtok
        ) / 1e6


@dataclass(frozen=True)
class Served(Generic[T]):
    """An answer and who gave it: the deployment (or model id) and its tier."""

    value: T
    deployment: str
    tier: Tier


def resolve_model(
    model_id: str, embedded_context: int, deployments: Sequence[Deployment] = ()
) -> ModelSpec:
    """The spec for a deployment name, or a litellm model id: embedded/, or any model litellm
    knows a price for."""
    for deployment in deployments:
        if deployment.name == model_id:
            return ModelSpec.of(deployment)
    provider, _, name = model_id.partition("/")
    if provider == "embedded":
        price = embedded_price(model_id)
        if price is None:
            raise ConfigError("model", f"no embedded model named {name!r}")
        return ModelSpec(
            model_id=model_id,
            context_window=embedded_context,
            input_usd_per_mtok=price.input_usd_per_mtok,
            output_usd_per_mtok=price.output_usd_per_mtok,
        )
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    try:
        info = litellm.get_model_info(model_id)
    except Exception:
        raise ConfigError(
            "model", f"no price known for {model_id!r}; ciagent never treats a model as free"
        ) from None
    input_cost = info.get("input_cost_per_token")
    output_cost = info.get("output_cost_per_token")
    if input_cost is None or output_cost is None:
        raise ConfigError("model", f"litellm has no token prices for {model_id!r}")
    context = info.get("max_input_tokens") or info.get("max_tokens") or 8192
    return ModelSpec(
        model_id=model_id,
        context_window=int(context),
        input_usd_per_mtok=float(input_cost) * 1e6,
        output_usd_per_mtok=float(output_cost) * 1e6,
    )
