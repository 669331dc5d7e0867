"""Evaluation episodes with their gold annotations.

Two readers:
- QMSum meeting JSON: gold chapters are the starts of `topic_list[].relevant_text_span`, the gold
  summary is the answer to "Summarize the whole meeting." (or "... the meeting"; no gold
  entities);
- the project's golden JSONL (`evals/*.jsonl`), one episode a line:
  `{"id", "transcript" (path, relative to the file), "summary"?, "chapters"?: [first segment of
  each chapter], "entities"?: [{"name", "type"}], "segments"?: [{"kind", "start", "end",
  "sponsor"?}], "safety"?: [{"label", "segments": [segment indices]}], "people"?: [{"name",
  "role"}]}`. The last three are the built-in extractors' gold (`ciagent.signals`): an empty
  list says there is none to find.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ciagent.errors import TranscriptError
from ciagent.types import EntityType

__all__ = [
    "EvalEpisode",
    "GoldEntity",
    "GoldLabel",
    "GoldPart",
    "GoldPerson",
    "read_dataset",
]


class GoldEntity(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    type: EntityType


class GoldPart(BaseModel):
    """A part that is not content (`segments`): its kind, times and sponsor."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    start: float
    end: float
    sponsor: str | None = None


class GoldLabel(BaseModel):
    """A passage a moderator labels (`safety`): the label and its segments (0-based)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str
    segments: list[int] = Field(min_length=1)


class GoldPerson(BaseModel):
    """Someone taking part (`people`), in their role."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    role: str


class EvalEpisode(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    transcript: Path
    summary: str | None = None
    chapters: list[int] | None = Field(
        default=None, description="The first segment of each gold chapter."
    )
    entities: list[GoldEntity] | None = None
    segments: list[GoldPart] | None = None
    safety: list[GoldLabel] | None = None
    people: list[GoldPerson] | None = None

    def signals(self) -> tuple[str, ...]:
        """The built-in extractors this episode has gold for."""
        named = {"segments": self.segments, "safety": self.safety, "people": self.people}
        return tuple(name for name, gold in named.items() if gold is not None)


_SUMMARY_QUERY = re.compile(r"summari[sz]e the (?:whole )?meeting\.?", re.IGNORECASE)


def _qmsum(path: Path, data: dict[str, object]) -> EvalEpisode:
    starts: set[int] = set()
    for topic in data.get("topic_list") or []:  # type: ignore[attr-defined]
        for span in topic.get("relevant_text_span") or []:
            starts.add(int(span[0]))
    summary = None
    for query in data.get("general_query_list") or []:  # type: ignore[attr-defined]
        # "Summarize the whole meeting." in most files, "Summarize the meeting" in some.
        if _SUMMARY_QUERY.fullmatch(str(query.get("query", "")).strip()):
            summary = str(query.get("answer", ""))
    return EvalEpisode(
        id=path.stem, transcript=path, summary=summary, chapters=sorted(starts | {0})
    )


def _golden(path: Path) -> list[EvalEpisode]:
    episodes = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            raw["transcript"] = str((path.parent / raw["transcript"]).resolve())
            episodes.append(EvalEpisode.model_validate(raw))
        except (json.JSONDecodeError, KeyError, TypeError, ValidationError) as exc:
            raise TranscriptError(path, f"bad golden episode: {exc}", line=number) from None
    return episodes


def read_dataset(path: str | Path) -> list[EvalEpisode]:
    """The episodes of a QMSum JSON file or a golden JSONL file."""
    path = Path(path)
    if path.suffix == ".jsonl":
        return _golden(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise TranscriptError(path, f"not a readable dataset: {exc}") from None
    if isinstance(data, dict) and "meeting_transcripts" in data:
        return [_qmsum(path, data)]
    raise TranscriptError(path, "not a QMSum meeting (.json) or a golden episode list (.jsonl)")
