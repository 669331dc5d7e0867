"""The package's version and the output contract's, at the bottom of the layers: provenance
records them without importing the package root (which would reach up to the API)."""

from __future__ import annotations

__all__ = ["SCHEMA_ID", "SCHEMA_VERSION", "__version__"]

__version__ = "0.1.0"

SCHEMA_VERSION = "1.0.0"
"""The version of the output contract (`EpisodeEnrichment`), semver: a field added is a minor
bump, a field removed, renamed or retyped a major one. `docs/schema/episode-enrichment.json`
holds the published schema of this version; a test fails when the two differ."""

SCHEMA_ID = f"https://ciagent.dev/schema/episode-enrichment/{SCHEMA_VERSION}.json"
