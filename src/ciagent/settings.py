"""Frozen run settings, read from `ciagent.toml` and `CIAGENT_*` environment variables.

Precedence, lowest first: defaults, the config file, the environment, explicit overrides.
Settings are loaded at the edges (CLI, `Settings.load`) and passed down; nothing below reads
the environment on its own.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    InstanceOf,
    ValidationError,
    field_validator,
    model_validator,
)

from ciagent.errors import ConfigError
from ciagent.extractors import Extractor, as_extractor
from ciagent.llm.backend import Backend
from ciagent.pipeline import Step, as_step, check_places
from ciagent.references import imported
from ciagent.routing.registry import Deployment, Tier

__all__ = ["DEFAULT_MODEL", "ENV_PREFIX", "SMALL_CHUNK_TOKENS", "Settings"]

SMALL_CHUNK_TOKENS = 1500
"""Tokens of transcript per chunk for a small model (one a 4k-token context serves)."""

ENV_PREFIX = "CIAGENT_"
DEFAULT_MODEL = "embedded/qwen2.5-coder-0.5b-instruct"


def _default_cache_dir() -> Path:
    return platformdirs.user_cache_path("ciagent")


# The steps that write little but matter most; notes and claims climb tiers by escalation.
StepName = Literal["chunk_summary", "summary", "chapters"]


class Settings(BaseModel):
    """Everything that shapes a run. Immutable: derive variants with `model_copy(update=...)`."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    model: str | Backend = Field(
        default=DEFAULT_MODEL,
        description="A deployment name, a litellm model id, 'auto' to route over deployments, "
        "'module:attribute' naming a backend object (or a factory of one), or, in code, a "
        "backend object itself (`ciagent.llm.backend.Backend`, such as a FakeModel).",
    )
    extractors: tuple[InstanceOf[Extractor], ...] = Field(
        default=(),
        description="Signals of your own (`ciagent.extractors`): extractors, or their "
        "module:attribute names; each is asked of every chunk and its grounded items land in "
        "`extras[name]`.",
    )
    steps: tuple[InstanceOf[Step], ...] = Field(
        default=(),
        description="Steps of your own (`ciagent.pipeline`), or their module:attribute names: "
        "each runs where it is placed (after the steps it names) and its result lands in "
        "`extras[name]`.",
    )
    extractor_calls: Literal["auto", "ride", "own"] = Field(
        default="auto",
        description="How extractors are asked: 'ride' in the notes call of each chunk (the "
        "chunk is read once), 'own' in a call of their own beside it, or 'auto': riding for a "
        "model that writes JSON well, while their items fit the notes' answer, and their own "
        "calls for a small model. An extractor declared with call='own' always has its own.",
    )
    chunk_tokens: int | None = Field(
        default=None,
        ge=16,
        description="Most tokens of transcript per notes call; chosen for the model if unset "
        "(1500 on an embedded model, up to 4000 on one with a larger context).",
    )
    chunk_overlap_tokens: int = Field(default=100, ge=0, description="Tokens shared by neighbours.")
    max_output_tokens: int | None = Field(
        default=None,
        ge=16,
        description="Completion cap per call; if unset 1024, scaled up with chunks over 1500.",
    )
    temperature: float = Field(default=0.0, ge=0, le=2)
    seed: int = 0
    max_reasks: int = Field(default=2, ge=0, le=10, description="Re-asks on invalid output.")
    concurrency: int = Field(default=4, ge=1, description="Model calls in flight per episode.")
    timeout_s: float = Field(default=600.0, gt=0, description="Limit for one model call.")
    max_transcript_mb: float = Field(
        default=20.0,
        gt=0,
        description="Larger transcript files are refused unread (20 MiB is about 3.5 million "
        "words, some 350 hours of speech).",
    )
    admission_wait_s: float = Field(
        default=3600.0,
        ge=0,
        description="Under a run cap, how long an episode waits for the episodes in flight to "
        "finish when their holds leave no room for what it will need (then it goes on without "
        "a hold of its own).",
    )
    max_retries: int = Field(default=4, ge=0, le=20, description="Retries on transient errors.")
    retry_deadline_s: float = Field(
        default=300.0, gt=0, description="No retry starts later than this after the first try."
    )
    max_topics: int = Field(default=10, ge=1)
    ner: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Names found with no model call (spaCy, extra `nlp`): 'auto' uses them when "
        "installed, 'on' requires them, 'off' leaves entities to the model alone.",
    )
    nlp_processes: int = Field(
        default=2,
        ge=0,
        le=64,
        description="Processes of ciagent's own the NLP pipeline reads transcripts in, beside "
        "this one, about 150 MB each (episodes run at once share them); 0 reads transcripts in "
        "this process's worker thread, where the pipeline shares its interpreter lock.",
    )
    max_recognized_entities: int = Field(
        default=40,
        ge=0,
        description="Most entities kept that only the NLP pipeline found (the most said first).",
    )
    cache_dir: Path = Field(default_factory=_default_cache_dir)
    cache: bool = Field(default=True, description="Reuse answers cached under cache_dir/responses.")
    cache_max_mb: int = Field(
        default=2048,
        ge=1,
        description="Most megabytes of cached answers; past it the least recently used go.",
    )
    models_dir: Path | None = Field(
        default=None, description="Where the embedded model file is assembled; cache_dir/models."
    )
    prompts_dir: Path | None = Field(
        default=None, description="Prompt templates to use instead of the shipped ones."
    )
    budget_usd: float | None = Field(default=None, ge=0, description="Cap on the run's spend.")
    budget_tokens: int | None = Field(default=None, ge=0, description="Cap on the run's tokens.")
    episode_budget_usd: float | None = Field(default=None, ge=0, description="Cap per episode.")
    episode_budget_tokens: int | None = Field(default=None, ge=0, description="Cap per episode.")
    run_id: str | None = Field(
        default=None, description="Runs with the same id share the run caps; unique by default."
    )
    ledger_path: Path | None = Field(
        default=None, description="The spend ledger shared by processes; cache_dir/ledger.sqlite."
    )
    ledger_keep_days: float = Field(
        default=30.0,
        gt=0,
        description="A run's spend stays in the ledger this long after its last call, then is "
        "pruned (a run id reused later counts from zero).",
    )
    deployments: tuple[Deployment, ...] = Field(
        default=(), description="Model deployments ([[deployments]] tables); see routing.registry."
    )
    step_tiers: dict[StepName, Tier] = Field(
        default_factory=dict,
        description="The lowest tier a step starts on, e.g. {summary = 'medium'}: the steps that "
        "write little but matter most (summary, chapters) on a stronger model. Where no "
        "deployment offers that tier, the highest one deployed serves; one model serves all.",
    )
    overflow: Literal["queue", "spill"] = Field(
        default="queue",
        description="At a deployment's max_concurrency: wait for a slot, or go to the next one.",
    )
    failures_to_cool: int = Field(default=2, ge=1, description="Failures in a row to cool down.")
    cooldown_s: float = Field(default=30.0, ge=0, description="How long a failing one rests.")
    chunk_summaries: Literal["auto", "apart", "in_notes"] = Field(
        default="auto",
        description="How a chunk's summary is asked for: in a prose call of its own ('apart'), "
        "in the notes call ('in_notes': the chunk is read once), or 'auto': apart for a small "
        "model, which writes it badly inside JSON.",
    )
    skip_non_content: bool = Field(
        default=True,
        description="Leave the parts that are not the episode's content (sponsor reads, "
        "promotion of other shows, the intro, content notes and the outro, as "
        "`ciagent.signals.segments` finds them without a model) out of the summary: a chunk "
        "with such lines has its summary asked apart, of the other lines, and stand-in lines "
        "never come from those parts. Entities, topics and chapters still read every line.",
    )
    chapters: bool = Field(default=True, description="Divide the episode into chapters.")
    taxonomy: str | None = Field(
        default=None,
        description="Map topics onto a taxonomy: 'podcast' (shipped) or a TOML file's path.",
    )
    min_chapter_words: int = Field(
        default=600, ge=1, description="Shortest chapter in words, when the episode is long."
    )
    min_chapter_share: float = Field(
        default=0.1, gt=0, le=1, description="Shortest chapter as a share of the episode's words."
    )
    max_chapter_words: int = Field(default=3000, ge=2, description="Longest chapter in words.")
    min_chapter_s: float = Field(default=30.0, gt=0, description="Shortest chapter (timed).")
    max_chapter_s: float = Field(default=900.0, gt=0, description="Longest chapter (timed).")
    verify_claims: bool = Field(
        default=True, description="Judge each summary sentence against retrieved evidence."
    )
    claims_per_judge_call: int | None = Field(
        default=None,
        ge=1,
        le=16,
        description="Summary claims judged together; chosen for the model if unset (1 on an "
        "embedded model, 8 otherwise).",
    )
    claim_evidence: int = Field(
        default=4, ge=1, le=12, description="Segments retrieved as evidence for each claim."
    )
    claim_judge: Literal["auto", "verdict", "contrast", "lexical"] = Field(
        default="auto",
        description="Who judges a claim the lexical checks leave: a model asked for a verdict "
        "('verdict': supported / contradicted / not found), a model asked which of the claim "
        "and its negation the evidence supports ('contrast': only the answer's likelihood is "
        "read), no one ('lexical': it stays unchecked), or 'auto': lexical for a small model, "
        "whose verdicts do not depend on the evidence (docs/evals.md), verdict for any other.",
    )
    lexical_checks: bool = Field(
        default=True,
        description="Rule with no model call on claims whose words settle them (most never "
        "said, a changed number, the opposite polarity): `ciagent.entailment`.",
    )
    escalate: bool = Field(
        default=True,
        description="Re-ask what fails verification on the next tier up, when one is deployed.",
    )
    reread_below: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="A chunk whose items are grounded at a lower rate than this (of two or more) "
        "is read again on the next tier up; 0 turns chunk re-reads off.",
    )
    on_unverified: Literal["drop", "flag"] = Field(
        default="drop",
        description="What happens to items still unverified after escalation: dropped, or kept "
        "marked unverified.",
    )
    embedded_context: int = Field(default=8192, ge=512, description="Context of the local model.")
    embedded_threads: int | None = Field(
        default=None, ge=1, description="CPU threads; the cores this process may use if unset."
    )
    embedded_parallel: int = Field(
        default=4,
        ge=1,
        le=16,
        description="Requests the embedded model decodes together (one batch per token step).",
    )

    @field_validator("extractors", mode="before")
    @classmethod
    def _extractors_declared(cls, value: object) -> tuple[Extractor, ...]:
        """Extractors, models the `extractor` decorator declared, or their module:attribute
        names (from a config file)."""
        given = value if isinstance(value, list | tuple) else (value,)
        named = [imported(v, "extractors") if isinstance(v, str) else v for v in given]
        declared = tuple(as_extractor(v) for v in named)
        names = [e.name for e in declared]
        if len(set(names)) < len(names):
            raise ConfigError("extractors", f"two extractors share a name: {sorted(names)}")
        return declared

    @field_validator("steps", mode="before")
    @classmethod
    def _steps_declared(cls, value: object) -> tuple[Step, ...]:
        """Steps, or their module:attribute names (from a config file)."""
        given = value if isinstance(value, list | tuple) else (value,)
        named = [imported(v, "steps") if isinstance(v, str) else v for v in given]
        return tuple(as_step(v) for v in named)

    @model_validator(mode="after")
    def _steps_placed(self) -> Settings:
        if self.steps:
            shared = {s.name for s in self.steps} & {e.name for e in self.extractors}
            if shared:
                named = sorted(shared)
                raise ConfigError("steps", f"a step and an extractor share a name: {named}")
            check_places(self.steps)
        return self

    @property
    def model_name(self) -> str:
        """The model as a name: the string given, or the backend object's model id."""
        return self.model if isinstance(self.model, str) else self.model.spec.model_id

    @property
    def model_files_dir(self) -> Path:
        return self.models_dir or self.cache_dir / "models"

    @property
    def max_transcript_bytes(self) -> int:
        return int(self.max_transcript_mb * 2**20)

    @property
    def ledger_file(self) -> Path:
        return self.ledger_path or self.cache_dir / "ledger.sqlite"

    @property
    def has_budget(self) -> bool:
        caps = (self.budget_usd, self.budget_tokens, self.episode_budget_usd)
        return any(cap is not None for cap in (*caps, self.episode_budget_tokens))

    @model_validator(mode="after")
    def _overlap_below_half(self) -> Settings:
        smallest = self.chunk_tokens or SMALL_CHUNK_TOKENS
        if self.chunk_overlap_tokens >= smallest // 2:
            raise ValueError(
                f"chunk_overlap_tokens ({self.chunk_overlap_tokens}) must be below half of "
                f"chunk_tokens ({smallest})"
            )
        return self

    @model_validator(mode="after")
    def _chapter_bounds_ordered(self) -> Settings:
        for low, high in (
            ("min_chapter_s", "max_chapter_s"),
            ("min_chapter_words", "max_chapter_words"),
        ):
            if getattr(self, low) > getattr(self, high):
                raise ValueError(
                    f"{low} ({getattr(self, low)}) must not exceed {high} ({getattr(self, high)})"
                )
        return self

    @classmethod
    def load(
        cls,
        config: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        given_as: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> Settings:
        """Defaults, then `config` (or ./ciagent.toml when present), then CIAGENT_* variables,
        then `overrides` (None values are ignored).

        A bad value is a ConfigError naming where it came from: the file and line, the
        environment variable, or the override (as `given_as` calls it, e.g. a command-line flag).
        """
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        path = Path(config) if config is not None else Path("ciagent.toml")
        if config is not None or path.is_file():
            read, lines = _read_toml(path)
            values.update(read)
            sources.update({name: f"{path}, line {lines[name]}" for name in read if name in lines})
            sources.update({name: str(path) for name in read if name not in lines})
        environ = os.environ if env is None else env
        for name in cls.model_fields:
            raw = environ.get(ENV_PREFIX + name.upper())
            if raw is not None:
                values[name] = raw
                sources[name] = f"environment variable {ENV_PREFIX + name.upper()}"
        for name, value in overrides.items():
            if value is not None:
                values[name] = value
                sources[name] = (given_as or {}).get(name, f"argument {name}")
        unknown = sorted(set(values) - set(cls.model_fields))
        if unknown:
            raise ConfigError(
                sources.get(unknown[0], str(path)), f"unknown setting(s): {', '.join(unknown)}"
            )
        told = _SOURCES.set(sources)
        try:
            return cls.model_validate(values)
        finally:
            _SOURCES.reset(told)

    def __init__(self, **values: Any) -> None:
        """A bad value is a ConfigError naming the setting and where it came from (the file and
        line, the variable, or the argument)."""
        try:
            super().__init__(**values)
        except ValidationError as exc:
            sources = _SOURCES.get() or {name: f"argument {name}" for name in values}
            raise _config_error(exc, sources) from None

    def model_copy(
        self, *, update: Mapping[str, Any] | None = None, deep: bool = False
    ) -> Settings:
        """A copy; with `update`, the changed settings checked as when they are first given
        (a bad value is a ConfigError, an extractor given as its model is declared)."""
        if not update:
            return super().model_copy(deep=deep)
        unknown = sorted(set(update) - set(type(self).model_fields))
        if unknown:
            raise ConfigError(f"argument {unknown[0]}", f"unknown setting(s): {', '.join(unknown)}")
        kept = {name: getattr(self, name) for name in self.model_fields_set}
        return type(self)(**{**kept, **update})


# Where each value of the settings being validated came from, while `Settings.load` validates.
_SOURCES: ContextVar[Mapping[str, str] | None] = ContextVar("settings_sources", default=None)


def _config_error(exc: ValidationError, sources: Mapping[str, str]) -> ConfigError:
    """A validation error as a ConfigError naming each setting at fault and where it came from."""
    errors = exc.errors()
    where = [_blame(err, sources) for err in errors]
    first = next((w for w in where if w), "settings")
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
        + (f" (from {w})" if w and w != first else "")
        for err, w in zip(errors, where, strict=True)
    )
    return ConfigError(first, problems)


def _blame(error: Any, sources: Mapping[str, str]) -> str:
    """Where the value behind a validation error came from; for an error between settings (no
    field of its own), where the settings it names came from."""
    if error["loc"]:
        return sources.get(str(error["loc"][0]), "")
    named = re.findall(r"[a-z][a-z0-9_]+", str(error["msg"]))
    return " and ".join(dict.fromkeys(sources[n] for n in named if n in sources))


def _read_toml(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """The file's settings, and the line each top-level key is set on (where it can be told)."""
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(str(path), "config file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"invalid TOML: {exc}") from None
    section = data.get("ciagent", data)
    if not isinstance(section, dict):
        raise ConfigError(str(path), "[ciagent] must be a table")
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        found = _KEY_LINE.match(line)
        if found and found.group(1) in section:
            lines.setdefault(found.group(1), number)
    return section, lines


# A `key = value` or `key.sub = value` line of a TOML file (quoted keys aside).
_KEY_LINE = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*[=.]")
