"""The backends ciagent ships: hosted APIs and OpenAI-compatible servers through litellm
(`hosted`), and the embedded llama.cpp model (`local`). A `FakeModel` (`ciagent.testing`) is a
backend too; so is any object of a user's that follows `ciagent.llm.backend.Backend`."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from ciagent.errors import ConfigError
from ciagent.llm.backend import Backend
from ciagent.llm.models import ModelSpec
from ciagent.references import REFERENCE, imported

if TYPE_CHECKING:
    from ciagent.settings import Settings

__all__ = ["ENTRY_POINTS", "backend_for", "named_backend"]

ENTRY_POINTS = "ciagent.backends"
"""The entry-point group through which a package adds backends: the entry's name is the
provider part of a model id (`mine` for `mine/some-model`), its object a factory called with the
model id and the run's settings, returning a backend."""


def backend_for(spec: ModelSpec, settings: Settings) -> Backend:
    """The backend ciagent ships for a resolved model: the embedded model for `embedded/`,
    litellm for the rest."""
    if spec.model_id.startswith("embedded/"):
        from ciagent.llm.backends.local import EmbeddedBackend

        return EmbeddedBackend(
            spec,
            settings.model_files_dir,
            threads=settings.embedded_threads,
            parallel=settings.embedded_parallel,
        )
    from ciagent.llm.backends.hosted import HostedBackend

    return HostedBackend(spec)


def named_backend(model: str, settings: Settings) -> Backend | None:
    """The backend a model name means when it is not one ciagent resolves itself: a
    `module:attribute` reference, or a provider an installed package registered under the
    `ciagent.backends` entry points. None for any other name."""
    if REFERENCE.match(model):
        return _referenced(model)
    provider, slash, _ = model.partition("/")
    if not slash:
        return None
    for entry in entry_points(group=ENTRY_POINTS, name=provider):
        return _checked(model, entry.load()(model, settings))
    return None


def _referenced(model: str) -> Backend:
    value = imported(model, "model")
    # A class is made an instance (the class itself has the methods, unbound).
    if isinstance(value, type) or (not isinstance(value, Backend) and callable(value)):
        try:
            value = value()
        except Exception as error:
            raise ConfigError("model", f"cannot make a backend of {model!r}: {error}") from None
    return _checked(model, value)


def _checked(model: str, value: object) -> Backend:
    if not isinstance(value, Backend):
        raise ConfigError(
            "model", f"{model!r} is not a backend (an object with spec, complete and probe)"
        )
    return value
