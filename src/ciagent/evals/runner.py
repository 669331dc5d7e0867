"""The eval runner: every episode under every config, scored for quality and cost side by side."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ciagent.api import enrich
from ciagent.evals.datasets import EvalEpisode
from ciagent.evals.metrics import boundary_prf, entity_prf, pk, rouge, typed_share, windowdiff
from ciagent.evals.signals import label_prf, part_boundary_prf, people_prf
from ciagent.settings import Settings
from ciagent.signals import built_in
from ciagent.transcripts import load_transcript
from ciagent.types import EpisodeEnrichment
from ciagent.vocabulary import not_metadata

__all__ = ["EpisodeScore", "evaluate", "junk_share", "mean_scores", "score", "with_signals"]

TOLERANCE = 3  # segments either side for a boundary to count as found


class EpisodeScore(BaseModel):
    """One episode under one config: quality (None where there is no gold) and cost."""

    model_config = ConfigDict(frozen=True)

    config: str
    episode: str
    status: str
    chapters: int
    boundary_f1: float | None = None
    pk: float | None = None
    windowdiff: float | None = None
    rouge1: float | None = None
    rouge2: float | None = None
    rougeL: float | None = None
    entity_f1: float | None = None
    typed_correct: float | None = None  # of the entities that name a gold one, typed as it is
    not_metadata: float  # share of titles, topics and entities that are filler, roles or labels
    grounding_rate: float
    claims_supported: float | None = None
    segment_f1: float | None = None  # non-content parts' starts and ends within 5 s
    safety_precision: float | None = None
    safety_recall: float | None = None
    people_f1: float | None = None  # participants by name and role
    usd: float
    calls: int
    tokens: int
    wall_s: float


def junk_share(result: EpisodeEnrichment, speakers: Sequence[str] = ()) -> float:
    """The share of chapter titles, topics and entity names that are filler, a role or a voice
    label (`vocabulary.not_metadata`): 0 for metadata a person would ship."""
    phrases = [
        *(c.title for c in result.chapters),
        *(t.name for t in result.topics),
        *(e.name for e in result.entities),
    ]
    if not phrases:
        return 0.0
    return sum(not_metadata(p, speakers) for p in phrases) / len(phrases)


def score(
    config: str,
    episode: EvalEpisode,
    result: EpisodeEnrichment,
    count: int,
    speakers: Sequence[str] = (),
) -> EpisodeScore:
    """Scores of one result against its episode's gold (`count`: segments in the transcript,
    `speakers`: its voice labels)."""
    values: dict[str, float | None] = {}
    if episode.chapters is not None and result.chapters:
        predicted = [c.segment_ids[0] for c in result.chapters]
        values["boundary_f1"] = boundary_prf(predicted, episode.chapters, TOLERANCE).f1
        values["pk"] = pk(predicted, episode.chapters, count)
        values["windowdiff"] = windowdiff(predicted, episode.chapters, count)
    if episode.summary:
        scores = rouge(result.summary, episode.summary)
        values.update(rouge1=scores["rouge1"], rouge2=scores["rouge2"], rougeL=scores["rougeL"])
    if episode.entities is not None:
        predicted_entities = [(e.name, e.type.value, e.aliases) for e in result.entities]
        gold = [(e.name, e.type.value) for e in episode.entities]
        values["entity_f1"] = entity_prf(predicted_entities, gold).f1
        values["typed_correct"] = typed_share(predicted_entities, gold)
    values.update(_signal_scores(episode, result))
    report = result.verification
    claims = report.claims
    return EpisodeScore(
        config=config,
        episode=episode.id,
        status=result.status,
        chapters=len(result.chapters),
        not_metadata=junk_share(result, speakers),
        grounding_rate=report.grounded / report.checked if report.checked else 0.0,
        claims_supported=claims.supported / claims.checked if claims.checked else None,
        usd=result.cost.usd,
        calls=result.cost.calls,
        tokens=result.cost.prompt_tokens + result.cost.completion_tokens,
        wall_s=result.cost.wall_s,
        **values,
    )


def _signal_scores(episode: EvalEpisode, result: EpisodeEnrichment) -> dict[str, float]:
    """The built-in extractors' scores, for those the episode has gold for and the run ran."""
    values: dict[str, float] = {}
    extras = result.extras
    if episode.segments is not None and "segments" in extras:
        values["segment_f1"] = part_boundary_prf(extras["segments"], episode.segments).f1
    if episode.safety is not None and "safety" in extras:
        labels = label_prf(extras["safety"]["labels"], episode.safety)
        values.update(safety_precision=labels.precision, safety_recall=labels.recall)
    if episode.people is not None and "people" in extras:
        values["people_f1"] = people_prf(extras["people"], episode.people).f1
    return values


def with_signals(settings: Settings, episode: EvalEpisode) -> Settings:
    """The settings with the built-in extractors the episode has gold for turned on (those the
    settings already have are kept as they are)."""
    have = {e.name for e in settings.extractors}
    wanted = [name for name in episode.signals() if name not in have]
    if not wanted:
        return settings
    return settings.model_copy(update={"extractors": (*settings.extractors, *built_in(*wanted))})


def evaluate(
    episodes: Sequence[EvalEpisode],
    configs: dict[str, Settings],
    on_score: Callable[[EpisodeScore], None] | None = None,
) -> list[EpisodeScore]:
    """Enrich every episode under every config and score it; an episode with gold for a
    built-in extractor (`ciagent.signals`) runs it too."""
    scores: list[EpisodeScore] = []
    for name, settings in configs.items():
        for episode in episodes:
            transcript = load_transcript(Path(episode.transcript))
            result = enrich(transcript, with_signals(settings, episode))
            speakers = sorted(transcript.speakers)
            row = score(name, episode, result, len(transcript.segments), speakers)
            scores.append(row)
            if on_score is not None:
                on_score(row)
    return scores


def mean_scores(scores: Sequence[EpisodeScore]) -> dict[str, dict[str, float | None]]:
    """Per config, the mean of every numeric column over the episodes that have it."""
    columns = [
        name
        for name, field in EpisodeScore.model_fields.items()
        if name not in ("config", "episode", "status")
    ]
    means: dict[str, dict[str, float | None]] = {}
    for config in dict.fromkeys(s.config for s in scores):
        rows = [s for s in scores if s.config == config]
        means[config] = {}
        for column in columns:
            values = [float(v) for r in rows if (v := getattr(r, column)) is not None]
            means[config][column] = sum(values) / len(values) if values else None
    return means
