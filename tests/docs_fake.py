"""The stand-in the documentation's snippets run on: every model they name becomes a fake.

`install()` makes `ciagent.llm.backends.backend_for` (which turns a resolved model, embedded or
hosted, into the object that answers) return a `FakeModel` of the same context window, named
after the model, in every module that imported it. It works in any process that imports this
module first: `tests/test_docs.py` puts a `sitecustomize.py` calling it on the PYTHONPATH of the
snippets' processes, so the command line, a Python snippet and the Ray workers they start all
answer from the fake. Nothing else a snippet does is changed.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import re
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

_PATCHED = ("ciagent.llm.backends", "ciagent.resolve", "ciagent.llm.routed")


def fake_backend(spec: Any, settings: Any) -> Any:
    from ciagent.testing import FakeModel

    # A name made of the model's: the same model, the same fake (its answers cached alike).
    name = re.sub(r"[^A-Za-z0-9.]+", "-", spec.model_id).strip("-")
    return FakeModel(name=name, context_window=spec.context_window)


def _patch(module: ModuleType) -> None:
    if hasattr(module, "backend_for"):
        module.backend_for = fake_backend  # type: ignore[attr-defined]


class _Loader(importlib.abc.Loader):
    def __init__(self, wrapped: importlib.abc.Loader) -> None:
        self._wrapped = wrapped

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._wrapped.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._wrapped.exec_module(module)
        _patch(module)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name not in _PATCHED:
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            found = finder.find_spec(name, path, target)  # type: ignore[attr-defined]
            if found is not None and found.loader is not None:
                found.loader = _Loader(found.loader)
                return found  # type: ignore[no-any-return]
        return None


def install() -> None:
    """Patch the modules already imported, and those imported from now on."""
    for name in _PATCHED:
        if name in sys.modules:
            _patch(sys.modules[name])
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
