"""The package's version, at the bottom of the layers: provenance records it without importing
the package root (which would reach up to the API)."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
