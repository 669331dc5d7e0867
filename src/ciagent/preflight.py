"""What a run checks once, before any episode: the problems that are the run's, not an
episode's. A deployment whose key is not in the environment is a ConfigError; a run whose every
model server is unreachable is a ModelCallError naming the server. Either stops a batch before any
episode is marked failed (a rerun would then skip them all), and `ciagent enrich` in a second
rather than after every retry of every chunk.

Only servers given by `api_base` are probed (`GET <api_base>/models`, `routing.registry.probe`): a
provider's own endpoint would need the key and a paid request, and the embedded model has no
server. Under routing one reachable deployment is enough (the router avoids the others).
"""

from __future__ import annotations

from ciagent.errors import ModelCallError
from ciagent.llm.models import ModelSpec
from ciagent.resolve import check_keys, model_specs
from ciagent.routing.registry import probe_base
from ciagent.settings import Settings

__all__ = ["preflight"]


def preflight(settings: Settings, timeout_s: float = 3.0) -> None:
    """Raise when the run cannot make a single model call; return quietly otherwise."""
    specs = model_specs(settings)
    check_keys(specs)
    served = [spec for spec in specs if spec.api_base]
    if not served or len(served) < len(specs):
        return  # something answers without a server of ours: the embedded model, a provider
    down: list[tuple[ModelSpec, str]] = []
    for spec in served:
        assert spec.api_base is not None
        health = probe_base(spec.api_base, timeout_s)
        if health == "up":
            return
        down.append((spec, health))
    spec, health = down[0]
    raise ModelCallError(
        spec.model_id,
        f"the model server at {spec.api_base} is {health}"
        + (f" (and {len(down) - 1} more deployments)" if len(down) > 1 else "")
        + ": start it, or fix api_base",
    )
