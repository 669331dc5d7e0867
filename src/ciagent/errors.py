"""The exceptions ciagent raises, all under one root.

    CiagentError
    ├── InputError                 bad input from the user (CLI exit code 2)
    │   ├── TranscriptError        a transcript that cannot be read (file, line, reason)
    │   ├── BatchInputError        a batch folder or manifest that cannot be used (file, line)
    │   └── ConfigError            settings or config file that cannot be used
    ├── ModelAssetError            embedded model weights missing or corrupt
    ├── ModelCallError             a model call failed after its retries (deployment, reason)
    │   └── StructuredOutputError  the answer never matched the schema within the reasks
    └── BudgetExceeded             a spend cap would be crossed (CLI exit code 3)

Every error carries structured fields besides its message, so callers can act on them
without parsing text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

__all__ = [
    "BatchInputError",
    "BudgetExceeded",
    "CiagentError",
    "ConfigError",
    "InputError",
    "ModelAssetError",
    "ModelCallError",
    "StructuredOutputError",
    "TranscriptError",
]


class CiagentError(Exception):
    """Root of every error ciagent raises on purpose."""


class InputError(CiagentError):
    """The input given by the user cannot be used."""


class _FileInputError(InputError):
    """An input file that cannot be used: which file, the line where one applies, and why."""

    def __init__(self, source: str | Path, reason: str, *, line: int | None = None) -> None:
        self.source = str(source)
        self.reason = reason
        self.line = line
        where = f"{self.source}:{line}" if line is not None else self.source
        super().__init__(f"{where}: {reason}")


class TranscriptError(_FileInputError):
    """A transcript file is empty, binary, undecodable, malformed or of unknown format."""


class BatchInputError(_FileInputError):
    """A batch's input (a folder or a JSONL manifest) is missing, empty or malformed."""


class ConfigError(InputError):
    """A settings value or config file is invalid."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class ModelAssetError(CiagentError):
    """The embedded model's files are missing, incomplete or fail their checksum."""


class ModelCallError(CiagentError):
    """A model call failed for good."""

    def __init__(self, model: str, reason: str) -> None:
        self.model = model
        self.reason = reason
        super().__init__(f"model {model}: {reason}")


class StructuredOutputError(ModelCallError):
    """The model's answer did not validate against the response schema after all reasks."""

    def __init__(self, model: str, reason: str, *, attempts: int) -> None:
        self.attempts = attempts
        super().__init__(model, f"{reason} (after {attempts} attempts)")


CapKind = Literal["run", "episode"]


class BudgetExceeded(CiagentError):
    """A spend cap would be crossed; the finished part of the work is kept."""

    def __init__(
        self,
        scope: str,
        unit: Literal["usd", "tokens"],
        limit: float,
        spent: float,
        *,
        kind: CapKind = "episode",
        pending: bool = False,
        in_flight: bool = False,
    ) -> None:
        """`scope`: the cap's ledger scope (`run:<id>`); `unit`: what it limits; `kind`: whose
        cap it is (a run's stops a whole batch). `spent`: what the cap would hold with the
        refused call's worst case added. `pending`: the call would fit once the holds of calls
        still in flight settle; `in_flight`: such holds stand in the way, whether or not it
        would then fit."""
        self.scope = scope
        self.unit = unit
        self.kind = kind
        self.limit = limit
        self.spent = spent
        self.pending = pending
        self.in_flight = in_flight
        super().__init__(
            f"budget {self.cap} exceeded: the next call could bring it to {spent:g} of {limit:g}"
        )

    @property
    def cap(self) -> str:
        """The cap as messages name it: `run:<id> usd`."""
        return f"{self.scope} {self.unit}"
