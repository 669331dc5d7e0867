"""Pydantic models shared by every step: the transcript, its chunks, and the output contract.

Times are seconds when the transcript is timed (`Transcript.timed`), and turn indices otherwise;
no seconds are ever invented for an untimed transcript.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from ciagent.version import SCHEMA_ID, SCHEMA_VERSION

__all__ = [
    "Chapter",
    "Chunk",
    "Claim",
    "ClaimCounts",
    "CostReport",
    "Entity",
    "EntityType",
    "EpisodeEnrichment",
    "ItemCounts",
    "ItemStatus",
    "Mention",
    "Provenance",
    "Quote",
    "RoutingDecision",
    "Segment",
    "Status",
    "StepFailure",
    "Topic",
    "Transcript",
    "UsageLine",
    "Verdict",
    "VerificationReport",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Segment(_Frozen):
    """One turn or cue: who said what, and when."""

    id: int = Field(ge=0, description="Position in the transcript, from 0.")
    start: float = Field(ge=0, description="Seconds, or the turn index when untimed.")
    end: float = Field(ge=0, description="Seconds, or the turn index when untimed.")
    speaker: str | None = None
    text: str

    @model_validator(mode="after")
    def _ordered(self) -> Segment:
        if self.end < self.start:
            raise ValueError(f"segment {self.id} ends ({self.end}) before it starts ({self.start})")
        return self


class Transcript(_Frozen):
    """A loaded transcript: segments in order, ids equal to positions."""

    segments: tuple[Segment, ...]
    timed: bool = Field(description="False when times are turn indices, not seconds.")
    format: str = Field(description="The format it was read from: txt, srt, vtt, whisper, qmsum.")
    source: str | None = Field(default=None, description="File path or other origin.")

    @model_validator(mode="after")
    def _ids_are_positions(self) -> Transcript:
        for position, segment in enumerate(self.segments):
            if segment.id != position:
                raise ValueError(f"segment at position {position} has id {segment.id}")
        return self

    @property
    def speakers(self) -> set[str]:
        """The names of those who speak in it."""
        return {s.speaker for s in self.segments if s.speaker}

    @property
    def sha256(self) -> str:
        """Hash of the content (times, speakers, text), independent of the file it came from."""
        digest = hashlib.sha256()
        for segment in self.segments:
            line = f"{segment.start}\t{segment.end}\t{segment.speaker or ''}\t{segment.text}\n"
            digest.update(line.encode("utf-8"))
        return digest.hexdigest()

    def render(self, first: int = 0, last: int | None = None) -> str:
        """Plain `Speaker: text` lines, the transcript as a reader would see it."""
        stop = len(self.segments) if last is None else last + 1
        return "\n".join(
            f"{s.speaker}: {s.text}" if s.speaker else s.text for s in self.segments[first:stop]
        )


class Chunk(_Frozen):
    """A contiguous run of segments that fits one model call."""

    id: int = Field(ge=0)
    first_segment: int = Field(ge=0)
    last_segment: int = Field(ge=0)
    first_char: int = Field(
        default=0, ge=0, description="Where the chunk starts in its first segment."
    )
    last_char_end: int | None = Field(
        default=None, description="Where it ends in its last segment; None for the segment's end."
    )
    start: float
    end: float
    tokens: int = Field(ge=0, description="Tokens of the rendered segments.")

    @property
    def segment_ids(self) -> range:
        return range(self.first_segment, self.last_segment + 1)


class EntityType(StrEnum):
    PERSON = "person"
    ORGANIZATION = "organization"
    PLACE = "place"
    WORK = "work"
    PRODUCT = "product"
    EVENT = "event"
    OTHER = "other"


class Mention(_Frozen):
    """Where an entity is said: exact transcript text, its segments, their times, and the
    character offsets of the text (from `char_start` in the first segment's text to `char_end`
    in the last one's)."""

    id: str = Field(
        default="", description="Unique in the episode, from where it is said (`ciagent.ids`)."
    )
    segment_ids: list[int] = Field(min_length=1)
    start: float
    end: float
    text: str
    char_start: int = Field(default=0, ge=0)
    char_end: int = Field(default=0, ge=0)


ItemStatus = Literal["grounded", "recovered", "unverified"]
"""`grounded`: found in the transcript as first produced; `recovered`: found after a stronger
tier re-asked it (escalation); `unverified`: never found, kept flagged (`on_unverified="flag"`)."""


class _Checked(_Frozen):
    produced_by: str | None = Field(
        default=None, description="The deployment (or model id) whose answer gave this item."
    )
    verification: ItemStatus = "grounded"


class Entity(_Checked):
    id: str = Field(
        default="",
        description="The same in every episode for the same type and name as compared "
        "(casefolded words, no diacritics): `ent_` and a hash (`ciagent.ids`).",
    )
    name: str
    type: EntityType
    aliases: list[str] = Field(default_factory=list)
    mentions: list[Mention] = Field(description="Every place it is said; empty only if unverified.")

    @model_validator(mode="after")
    def _evidenced(self) -> Entity:
        if not self.mentions and self.verification != "unverified":
            raise ValueError(f"entity {self.name!r} is {self.verification} but has no mention")
        return self


class Topic(_Frozen):
    name: str
    score: float = Field(ge=0, le=1, description="Share of the episode's tokens that discuss it.")
    segment_ids: list[int] = Field(
        default_factory=list,
        description="Evidence: the segments that say its words most (at most five, in order).",
    )
    category: str | None = Field(
        default=None, description="Where it falls in the configured taxonomy, if one is set."
    )


class Quote(_Checked):
    id: str = Field(
        default="", description="Unique in the episode, from where it is said (`ciagent.ids`)."
    )
    text: str = Field(description="Exact transcript text (the model's words if unverified).")
    speaker: str | None
    segment_ids: list[int] = Field(description="Where it is said; empty only if unverified.")
    start: float
    end: float
    char_start: int = Field(default=0, ge=0, description="Offset in the first segment's text.")
    char_end: int = Field(default=0, ge=0, description="Offset in the last segment's text.")

    @model_validator(mode="after")
    def _evidenced(self) -> Quote:
        if not self.segment_ids and self.verification != "unverified":
            raise ValueError(f"quote {self.text[:40]!r} is {self.verification} but has no segment")
        return self


Verdict = Literal["supported", "contradicted", "not_found", "unchecked"]


class Claim(_Frozen):
    """One sentence of the summary and the judge's verdict on it against retrieved evidence.

    `unchecked`: no judge ruled on it (none is asked for a small model's claims that the
    lexical checks leave; or its call failed, or the budget ran out)."""

    text: str
    verdict: Verdict
    evidence_segment_ids: list[int] = Field(
        default_factory=list, description="Segments the judge read, the cited ones first."
    )
    judged_by: str | None = None
    escalated: bool = Field(default=False, description="Re-judged by a stronger tier.")
    in_summary: bool = Field(description="Whether the sentence is kept in the summary.")


class Chapter(_Frozen):
    """A stretch of the episode on one subject. Its boundaries are segment starts and its times
    are those of its first and last segments, never written by a model."""

    title: str
    summary: str = Field(
        default="",
        description="One or two sentences; empty only when the chapter has no line to stand in.",
    )
    summary_from: Literal["model", "notes", "lines"] | None = Field(
        default=None,
        description=(
            "Where the summary comes from: the model's sentence for this chapter, the chunk "
            "summaries' sentences about it, or its most central line as prose; None: no summary."
        ),
    )
    start: float
    end: float
    segment_ids: list[int] = Field(min_length=1)
    keywords: list[str] = Field(default_factory=list, description="Its most distinctive words.")
    titled_by: str | None = Field(
        default=None, description="The deployment that wrote the title; None: its key words."
    )


class ItemCounts(_Frozen):
    """What happened to one kind of item (entities or quotes) in verification and escalation."""

    checked: int = Field(default=0, description="Every item produced, re-reads included.")
    grounded: int = Field(default=0, description="Found as first produced.")
    escalated: int = Field(default=0, description="Not found, so re-asked on a stronger tier.")
    reread: int = Field(
        default=0, description="Produced by a stronger tier re-reading a chunk that failed."
    )
    recovered: int = Field(default=0, description="Found after escalation (re-asked or re-read).")
    recognized: int = Field(
        default=0, description="Entities the NLP pipeline alone found (not counted as checked)."
    )
    dropped: int = 0
    flagged: int = Field(default=0, description="Never found, kept as unverified.")

    @property
    def grounding_rate_before(self) -> float:
        """Share of the first answers' items found in the transcript."""
        first = self.checked - self.reread
        return self.grounded / first if first else 0.0

    @property
    def grounding_rate_after(self) -> float:
        """Share of all items produced (escalations included) found in the transcript."""
        return (self.grounded + self.recovered) / self.checked if self.checked else 0.0


class ClaimCounts(_Frozen):
    """Verdicts on the summary's claims, after escalation."""

    checked: int = 0
    supported: int = 0
    contradicted: int = 0
    not_found: int = 0
    unchecked: int = 0
    escalated: int = Field(default=0, description="Re-judged by a stronger tier.")
    removed: int = Field(default=0, description="Taken out of the summary.")
    corrected: int = Field(
        default=0,
        description="Removed sentences written again with the name the evidence gives their "
        "role to (kept `unchecked`: only the name was checked).",
    )


class VerificationReport(_Frozen):
    """Every entity, quote and summary claim checked against the transcript, and what it cost.

    `checked`/`grounded`/`dropped` are totals over entities and quotes (after escalation)."""

    checked: int = 0
    grounded: int = 0
    dropped: int = 0
    entities: ItemCounts = ItemCounts()
    quotes: ItemCounts = ItemCounts()
    claims: ClaimCounts = ClaimCounts()
    chunks_escalated: int = Field(
        default=0,
        description="Chunks asked again on a stronger tier: invalid output, or too little of "
        "their answer grounded (see `reread_below`).",
    )
    verification_usd: float = Field(default=0.0, description="Cost of the judge calls.")
    escalation_usd: float = Field(default=0.0, description="Cost of every escalated call.")
    untrusted_segments: list[int] = Field(
        default_factory=list,
        description="Lines withheld from the model because they address it with instructions.",
    )
    summaries_replaced: list[int] = Field(
        default_factory=list,
        description="Chunks whose model summary was unusable (it looped, or named what the "
        "chunk never says): the chunk's most topical lines stand in for it, verbatim.",
    )
    summary_stand_in: bool = Field(
        default=False,
        description="No sentence of the model's summary survived the claim checks: the "
        "episode's most central lines, as prose, are the summary.",
    )
    outputs_withheld: int = Field(
        default=0,
        description="Summary sentences, quotes, entities, topics and chapter texts taken out "
        "because they address a model with instructions (a missed or rephrased injection).",
    )


class UsageLine(_Frozen):
    """Usage of one step or one model: requests, cache hits, failed attempts, tokens, cost and
    request latency (median and 95th percentile, seconds)."""

    calls: int = 0
    cache_hits: int = 0
    retries: int = Field(default=0, description="Attempts that failed (then retried or given up).")
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usd: float = 0.0
    latency_p50_s: float = 0.0
    latency_p95_s: float = 0.0


class RoutingDecision(_Frozen):
    """One routing choice: which deployment served (or failed, or was passed over for) a step."""

    step: str
    deployment: str
    outcome: Literal["chosen", "failed", "skipped"]
    reason: str


class CostReport(_Frozen):
    """Every model request of the episode (re-asks and retries included), and cache hits."""

    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usd: float = 0.0
    wall_s: float = 0.0
    by_step: dict[str, UsageLine] = Field(default_factory=dict)
    by_model: dict[str, UsageLine] = Field(default_factory=dict)
    routing: list[RoutingDecision] = Field(default_factory=list)


class Provenance(_Frozen):
    """Where a result comes from: the run, the episode, the models, prompts and settings."""

    run_id: str = Field(
        description="The run it was made in: `Settings.run_id`, shared by a batch's episodes."
    )
    episode_id: str = Field(
        description="The episode: a batch's id for it, `episode_id=` as given, the file's name "
        "without its extension, or for an in-memory transcript with no source, `sha256:` and "
        "the start of its hash."
    )
    source: str | None = Field(description="The transcript's file path or other origin.")
    created_at: AwareDatetime = Field(description="When the result was made (UTC).")
    settings_hash: str = Field(
        description="Hash of the settings that change the answer (model, deployments, "
        "extractors, steps, chunking, verification...; not paths, budgets, concurrency or "
        "retries): equal hashes, prompt versions and transcript mean a comparable result."
    )
    models: list[str]
    prompt_versions: dict[str, str]
    ciagent_version: str
    transcript_sha256: str
    transcript_format: str
    timed: bool = Field(description="False when all times are turn indices, not seconds.")


class StepFailure(_Frozen):
    """A part of the work that failed; the rest of the result stands without it."""

    step: str
    chunk_id: int | None = None
    error: str
    cap: Literal["run", "episode"] | None = None  # a budget failure: whose cap stopped the work


Status = Literal["complete", "partial", "budget_exceeded"]


class EpisodeEnrichment(_Frozen):
    """Everything ciagent found in one episode, with its evidence, cost and provenance."""

    schema_version: str = Field(
        default=SCHEMA_VERSION,
        pattern=r"^\d+\.\d+\.\d+$",
        description="The version of this contract (semver) that the result follows.",
    )
    status: Status
    summary: str
    chapters: list[Chapter] = Field(default_factory=list)
    topics: list[Topic] = Field(default_factory=list)
    entities: list[Entity] = Field(default_factory=list)
    quotes: list[Quote] = Field(default_factory=list)
    claims: list[Claim] = Field(
        default_factory=list, description="The summary's sentences, judged."
    )
    verification: VerificationReport = VerificationReport()
    cost: CostReport = CostReport()
    failures: list[StepFailure] = Field(default_factory=list)
    extras: dict[str, Any] = Field(
        default_factory=dict,
        description="What each extractor of the run's (`Settings.extractors`) found, by its "
        "name: its items as JSON (or, for an extractor with an episode-level result, that "
        "object), every span they cite grounded (text, segments, times, character offsets). "
        "Empty without extractors.",
    )
    provenance: Provenance

    def to_json(self, indent: int | None = 2) -> str:
        return self.model_dump_json(indent=indent)

    def to_dataframes(self) -> dict[str, Any]:
        """pandas DataFrames, one per kind: episodes, entities, mentions, chapters, topics,
        quotes, claims and cost, each row with the episode's id (extra `notebook`)."""
        from ciagent.frames import to_dataframes

        return to_dataframes(self)

    def _repr_html_(self) -> str:
        from ciagent.frames import to_html

        return to_html(self)

    @classmethod
    def json_schema(
        cls, extras: dict[str, tuple[type[BaseModel], bool]] | None = None
    ) -> dict[str, Any]:
        """The output's JSON schema; with `extras` (an extractor's name -> what it puts in
        `extras`: its item as the result holds it, and whether that is a list of them),
        `extras` says what each of them holds."""
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": SCHEMA_ID,
            "version": SCHEMA_VERSION,
            **cls.model_json_schema(),
        }
        for name, (item, many) in (extras or {}).items():
            shape = item.model_json_schema(ref_template="#/$defs/{model}")
            schema.setdefault("$defs", {}).update(shape.pop("$defs", {}))
            schema["$defs"][item.__name__] = shape
            ref = {"$ref": f"#/$defs/{item.__name__}"}
            listed = {"type": "array", "items": ref} if many else ref
            schema["properties"]["extras"].setdefault("properties", {})[name] = listed
        return schema
