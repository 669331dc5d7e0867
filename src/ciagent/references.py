"""`module:attribute` names of objects a user gives by name: in a config file, on the command
line (a backend, an extractor)."""

from __future__ import annotations

import importlib
import os
import re
import sys
from types import ModuleType

from ciagent.errors import ConfigError

__all__ = ["REFERENCE", "imported"]

REFERENCE = re.compile(r"^([A-Za-z_][\w.]*):([A-Za-z_]\w*)$")


def imported(reference: str, where: str) -> object:
    """The object `package.module:attribute` names; a ConfigError naming `where` when it cannot
    be loaded."""
    found = REFERENCE.match(reference)
    if found is None:
        raise ConfigError(where, f"{reference!r} is not a module:attribute name")
    try:
        return getattr(_module(found.group(1)), found.group(2))
    except (ImportError, AttributeError) as error:
        raise ConfigError(where, f"cannot load {reference!r}: {error}") from None


def _module(name: str) -> ModuleType:
    """The module, looked for in the working folder too (as `python -m` would: the command
    line's own script does not put it on the path)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError:
        here = os.getcwd()
        if here in sys.path:
            raise
        sys.path.append(here)
        return importlib.import_module(name)
