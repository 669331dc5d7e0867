"""Which models a run's settings name, resolved once, at the edge: the backend (a name made an
object), their specs, the reading they allow (chunk size, claims per judge call), the router
over the deployments that are routed, and their keys checked. Below the API, the batch and the
preflight, which all ask it."""

from __future__ import annotations

import os
from collections.abc import Sequence

from ciagent.errors import ConfigError
from ciagent.llm.backend import Backend
from ciagent.llm.backends import backend_for, named_backend
from ciagent.llm.models import ModelSpec, resolve_model
from ciagent.llm.reading import Reading, reading_for
from ciagent.routing.policy import Router
from ciagent.routing.registry import Deployment
from ciagent.settings import Settings

__all__ = ["backend", "check_keys", "model_specs", "new_router", "reading", "resolved", "routed"]


def routed(settings: Settings) -> tuple[Deployment, ...]:
    """The deployments a router serves: all of them under `model = "auto"`; the one named, when
    it has a `max_concurrency` to hold (across the episodes of a batch too); none otherwise."""
    if not isinstance(settings.model, str):
        return ()
    if settings.model == "auto":
        return settings.deployments
    named = [d for d in settings.deployments if d.name == settings.model]
    return tuple(d for d in named if d.max_concurrency)


def new_router(settings: Settings) -> Router:
    """A router over the settings' routed deployments (see `routed`)."""
    return Router(
        routed(settings),
        failures_to_cool=settings.failures_to_cool,
        cooldown_s=settings.cooldown_s,
        overflow=settings.overflow,
    )


def backend(settings: Settings) -> Backend:
    """The one backend a run that is not routed calls: the object given, a name resolved
    (a `module:attribute` reference, a provider registered by an installed package, a
    deployment, the embedded model or a litellm model id)."""
    model = settings.model
    if not isinstance(model, str):
        return model
    if model == "auto":
        raise ConfigError("model", "model = 'auto' routes over deployments: no one backend")
    named = named_backend(model, settings)
    if named is not None:
        return named
    spec = resolve_model(model, settings.embedded_context, settings.deployments)
    return backend_for(spec, settings)


def resolved(settings: Settings) -> Settings:
    """The settings with a model name made its backend object, once, so a factory named is
    called once a run (routed runs keep their names: the router resolves each deployment)."""
    if not isinstance(settings.model, str) or settings.model == "auto" or routed(settings):
        return settings
    return settings.model_copy(update={"model": backend(settings)})


def model_specs(settings: Settings) -> tuple[ModelSpec, ...]:
    """The models that may answer: every deployment under 'auto', else the one named."""
    if settings.model == "auto":
        if not settings.deployments:
            raise ConfigError("model", "model = 'auto' needs at least one [[deployments]] entry")
        return tuple(ModelSpec.of(d) for d in settings.deployments)
    if isinstance(settings.model, str) and routed(settings):
        return (resolve_model(settings.model, settings.embedded_context, settings.deployments),)
    return (backend(settings).spec,)


def reading(settings: Settings) -> Reading:
    """Transcript tokens per notes call and claims per judge call, for the settings' models."""
    return reading_for(settings, model_specs(settings))


_KEYLESS = ("embedded/", "fake/", "hosted_vllm/", "ollama/", "ollama_chat/")


def check_keys(specs: Sequence[ModelSpec]) -> None:
    """A ConfigError for the first model whose key is not set, before any call: a deployment's
    `api_key_env`, or for a provider's model id with no endpoint of its own the variables
    litellm reads its key from (OPENAI_API_KEY for openai/..., and so on)."""
    for spec in specs:
        where = f"deployment {spec.deployment}" if spec.deployment else "model"
        if spec.api_key_env:
            if spec.api_key_env not in os.environ:
                raise ConfigError(
                    where, f"its key is read from ${spec.api_key_env}, which is not set"
                )
            continue
        if spec.api_base or spec.model_id.startswith(_KEYLESS):
            continue
        missing = _missing_keys(spec.model_id)
        if missing:
            names = " and ".join(f"${name}" for name in missing)
            raise ConfigError(
                where,
                f"{spec.model_id} needs {names}, which is not set (or give the deployment an "
                "api_key_env)",
            )


def _missing_keys(model_id: str) -> list[str]:
    """The environment variables litellm would read the model's key from that are not set."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    try:
        found = litellm.validate_environment(model=model_id)
    except Exception:  # a provider litellm cannot tell about: the call itself will say
        return []
    return [str(name) for name in found.get("missing_keys", [])]
