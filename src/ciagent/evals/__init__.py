"""Evaluation: gold datasets, quality metrics and the runner behind `ciagent eval`."""

from ciagent.evals.datasets import EvalEpisode, GoldEntity, read_dataset
from ciagent.evals.metrics import PRF, boundary_prf, entity_prf, pk, rouge, windowdiff
from ciagent.evals.runner import EpisodeScore, evaluate, mean_scores, score

__all__ = [
    "PRF",
    "EpisodeScore",
    "EvalEpisode",
    "GoldEntity",
    "boundary_prf",
    "entity_prf",
    "evaluate",
    "mean_scores",
    "pk",
    "read_dataset",
    "rouge",
    "score",
    "windowdiff",
]
