"""ciagent: grounded, budgeted metadata enrichment for podcast and audiobook transcripts.

import ciagent
result = ciagent.enrich("episode.vtt")
print(result.summary, [e.name for e in result.entities])
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

# litellm fetches its model cost map from the network at import unless told to use its bundled
# copy; ciagent never downloads at run time. Set before anything can import litellm.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from ciagent.errors import (
    BatchInputError,
    BudgetExceeded,
    CiagentError,
    ConfigError,
    InputError,
    ModelAssetError,
    ModelCallError,
    StructuredOutputError,
    TranscriptError,
)
from ciagent.extractors import Extractor, Span, extractor
from ciagent.pipeline import Step, step
from ciagent.settings import Settings
from ciagent.tables import export
from ciagent.transcripts import load_transcript
from ciagent.types import (
    Chapter,
    Chunk,
    CostReport,
    Entity,
    EntityType,
    EpisodeEnrichment,
    Mention,
    Provenance,
    Quote,
    Segment,
    StepFailure,
    Topic,
    Transcript,
    UsageLine,
    VerificationReport,
)

if TYPE_CHECKING:
    from ciagent.api import aenrich, enrich
    from ciagent.batch import enrich_many

from ciagent.version import SCHEMA_VERSION, __version__
from ciagent.warm import warmup

__all__ = [
    "SCHEMA_VERSION",
    "BatchInputError",
    "BudgetExceeded",
    "Chapter",
    "Chunk",
    "CiagentError",
    "ConfigError",
    "CostReport",
    "Entity",
    "EntityType",
    "EpisodeEnrichment",
    "Extractor",
    "InputError",
    "Mention",
    "ModelAssetError",
    "ModelCallError",
    "Provenance",
    "Quote",
    "Segment",
    "Settings",
    "Span",
    "Step",
    "StepFailure",
    "StructuredOutputError",
    "Topic",
    "Transcript",
    "TranscriptError",
    "UsageLine",
    "VerificationReport",
    "__version__",
    "aenrich",
    "enrich",
    "enrich_many",
    "export",
    "extractor",
    "load_transcript",
    "step",
    "warmup",
]


def __getattr__(name: str) -> Any:
    # The entry points pull in langgraph and litellm; import them on first use only.
    if name in ("enrich", "aenrich"):
        from ciagent import api

        return getattr(api, name)
    if name == "enrich_many":
        from ciagent.batch import enrich_many

        return enrich_many
    raise AttributeError(f"module 'ciagent' has no attribute {name!r}")
