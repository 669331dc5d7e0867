"""What a batch enriches: a folder of transcripts, or a JSONL manifest of `{id, path, ...}`;
in code, transcripts loaded or built in memory too.

Every episode has an id, unique in the batch, that names its result file; a manifest line's
other keys are kept as the episode's metadata and written beside its result. A manifest's
relative paths are read from the manifest's folder.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, model_validator

from ciagent.errors import BatchInputError
from ciagent.provenance import default_episode_id
from ciagent.transcripts import EXTENSIONS
from ciagent.types import Transcript

__all__ = ["BatchInputError", "EpisodeSource", "SourceLike", "file_name", "read_sources"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class EpisodeSource(BaseModel):
    """One episode of a batch: a transcript file (`path`) or a transcript in memory."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=512)
    path: Path | None = None
    transcript: Transcript | None = None
    metadata: dict[str, JsonValue] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_transcript(self) -> EpisodeSource:
        if (self.path is None) == (self.transcript is None):
            raise ValueError(f"episode {self.id!r} needs a path or a transcript, not both")
        return self

    @property
    def origin(self) -> str:
        """Where it comes from, as records name it: the path, or the transcript's source."""
        if self.path is not None:
            return str(self.path)
        assert self.transcript is not None
        return self.transcript.source or f"<in memory: {self.id}>"

    @property
    def input(self) -> Path | Transcript:
        """What `aenrich` reads."""
        if self.path is not None:
            return self.path
        assert self.transcript is not None
        return self.transcript

    @classmethod
    def of(cls, source: SourceLike) -> EpisodeSource:
        """A source as given: a path's id is its file name without the extension, an in-memory
        transcript's its source's name (or `sha256:` and the start of its hash); an
        `(id, path or transcript)` pair names it."""
        if isinstance(source, EpisodeSource):
            return source
        if isinstance(source, tuple):
            if len(source) != 2 or not isinstance(source[0], str):
                raise BatchInputError(
                    "enrich_many", f"a pair must be (id, path or Transcript), not {source!r:.80}"
                )
            episode_id, given = source
            return cls._made(episode_id, given)
        if isinstance(source, Transcript | str | Path):
            return cls._made(default_episode_id(source), source)
        raise BatchInputError(
            "enrich_many",
            f"an episode is a path, a Transcript, an (id, path or Transcript) pair or an "
            f"EpisodeSource, not {type(source).__name__}",
        )

    @classmethod
    def _made(cls, episode_id: str, given: object) -> EpisodeSource:
        try:
            if isinstance(given, Transcript):
                return cls(id=episode_id, transcript=given)
            if isinstance(given, str | Path):
                return cls(id=episode_id, path=Path(given))
        except ValidationError as exc:
            raise BatchInputError("enrich_many", exc.errors()[0]["msg"]) from exc
        raise BatchInputError(
            "enrich_many", f"episode {episode_id!r}: a path or a Transcript, not {given!r:.80}"
        )


SourceLike = EpisodeSource | Transcript | str | Path | tuple[str, "Transcript | str | Path"]
"""What `enrich_many` takes for one episode."""


def file_name(episode_id: str) -> str:
    """The result file name of an episode: its id where that is a safe file name, else the
    id made safe plus a short hash of it (two ids never share a file)."""
    safe = _UNSAFE.sub("_", episode_id).strip("._") or "episode"
    if safe == episode_id and len(safe) <= 120:
        return f"{safe}.json"
    digest = hashlib.sha256(episode_id.encode()).hexdigest()[:12]
    return f"{safe[:100]}-{digest}.json"


def read_sources(path: Path) -> list[EpisodeSource]:
    """The episodes of a folder (every transcript file under it, sorted) or a manifest."""
    if path.is_dir():
        sources = _from_folder(path)
    elif path.is_file():
        sources = _from_manifest(path)
    else:
        raise BatchInputError(path, "no such folder or manifest")
    if not sources:
        raise BatchInputError(path, "no episodes found")
    return sources


def _from_folder(folder: Path) -> list[EpisodeSource]:
    sources: list[EpisodeSource] = []
    seen: dict[str, Path] = {}
    for file in sorted(folder.rglob("*")):
        if not file.is_file() or file.suffix.lower() not in EXTENSIONS:
            continue
        if any(part.startswith(".") for part in file.relative_to(folder).parts):
            continue
        episode_id = file.relative_to(folder).with_suffix("").as_posix()
        if episode_id in seen:
            raise BatchInputError(
                file, f"same episode id {episode_id!r} as {seen[episode_id]}; rename one"
            )
        seen[episode_id] = file
        sources.append(EpisodeSource(id=episode_id, path=file))
    return sources


def _from_manifest(manifest: Path) -> list[EpisodeSource]:
    try:
        lines = manifest.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchInputError(manifest, f"cannot read the manifest: {exc}") from exc
    sources: list[EpisodeSource] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        source = _manifest_line(manifest, number, line)
        if source.id in seen:
            raise BatchInputError(
                manifest, f"id {source.id!r} is also on line {seen[source.id]}", line=number
            )
        seen[source.id] = number
        sources.append(source)
    return sources


def _manifest_line(manifest: Path, number: int, line: str) -> EpisodeSource:
    try:
        row: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BatchInputError(manifest, f"not JSON: {exc.msg}", line=number) from exc
    if not isinstance(row, dict):
        raise BatchInputError(manifest, "each line must be a JSON object", line=number)
    missing = [key for key in ("id", "path") if not isinstance(row.get(key), str) or not row[key]]
    if missing:
        raise BatchInputError(
            manifest, f"needs a non-empty string {' and '.join(missing)}", line=number
        )
    path = Path(row.pop("path"))
    episode_id = row.pop("id")
    try:
        return EpisodeSource(
            id=episode_id,
            path=path if path.is_absolute() else manifest.parent / path,
            metadata=row,
        )
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise BatchInputError(manifest, f"{where}: {problem['msg']}", line=number) from exc
