"""`module:attribute` names of objects a user gives by name: in a config file, on the command
line (a backend, an extractor)."""

from __future__ import annotations

import importlib
import re

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
        return getattr(importlib.import_module(found.group(1)), found.group(2))
    except (ImportError, AttributeError) as error:
        raise ConfigError(where, f"cannot load {reference!r}: {error}") from None
