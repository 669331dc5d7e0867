"""Quality metrics, from maintained packages where one exists.

Segmentations are compared as boundary positions over a transcript's segments: a boundary `b`
means a chapter starts at segment `b` (0 is never a boundary). Pk and WindowDiff come from nltk
(`nltk.metrics.segmentation`), ROUGE from Google's `rouge-score`; boundary precision/recall with a
tolerance and entity precision/recall are counted here (one-to-one matching).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict

from ciagent.errors import ConfigError
from ciagent.textnorm import normalize_key

__all__ = ["PRF", "boundary_prf", "entity_prf", "pk", "rouge", "typed_share", "windowdiff"]


class PRF(BaseModel):
    model_config = ConfigDict(frozen=True)

    precision: float
    recall: float
    f1: float

    @classmethod
    def of(cls, matched: int, predicted: int, gold: int) -> PRF:
        precision = matched / predicted if predicted else float(gold == 0)
        recall = matched / gold if gold else float(predicted == 0)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return cls(precision=precision, recall=recall, f1=f1)


def boundary_prf(predicted: Iterable[int], gold: Iterable[int], tolerance: int = 0) -> PRF:
    """Boundaries matched one to one when within `tolerance` segments of each other."""
    wanted = sorted(set(gold) - {0})
    found = sorted(set(predicted) - {0})
    free = list(wanted)
    matched = 0
    for boundary in found:
        near = [g for g in free if abs(g - boundary) <= tolerance]
        if near:
            free.remove(min(near, key=lambda g: abs(g - boundary)))
            matched += 1
    return PRF.of(matched, len(found), len(wanted))


def _masses(boundaries: Iterable[int], count: int) -> str:
    """nltk's form: one character per segment, "1" where a chapter starts after it."""
    starts = {b for b in boundaries if 0 < b < count}
    return "".join("1" if i + 1 in starts else "0" for i in range(count))


def _half_mean_chapter(gold: list[int], count: int) -> int:
    chapters = len(set(gold) - {0}) + 1
    return max(2, round(count / chapters / 2))


def _nltk_segmentation() -> Any:
    try:
        from nltk.metrics import segmentation
    except ImportError:
        raise ConfigError(
            "evals", "segmentation metrics need nltk: pip install 'ciagent[eval]'"
        ) from None
    return segmentation


def pk(predicted: Iterable[int], gold: Iterable[int], count: int) -> float:
    """Pk (Beeferman et al.): the chance that two segments k apart are wrongly put in the same
    or in different chapters; k is half the mean gold chapter length. 0 is perfect."""
    gold = list(gold)
    k = _half_mean_chapter(gold, count)
    module = _nltk_segmentation()
    return float(module.pk(_masses(gold, count), _masses(predicted, count), k=k))


def windowdiff(predicted: Iterable[int], gold: Iterable[int], count: int) -> float:
    """WindowDiff (Pevzner and Hearst): like Pk, counting the boundaries in each window."""
    gold = list(gold)
    k = _half_mean_chapter(gold, count)
    module = _nltk_segmentation()
    return float(module.windowdiff(_masses(gold, count), _masses(predicted, count), k))


def rouge(predicted: str, gold: str) -> dict[str, float]:
    """ROUGE-1, ROUGE-2 and ROUGE-L F-measures (stemmed)."""
    try:
        from rouge_score import rouge_scorer
    except ImportError:
        raise ConfigError("evals", "ROUGE needs rouge-score: pip install 'ciagent[eval]'") from None
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    scores = scorer.score(gold, predicted)
    return {name: float(score.fmeasure) for name, score in scores.items()}


def entity_prf(
    predicted: Iterable[tuple[str, str]], gold: Iterable[tuple[str, str]], typed: bool = True
) -> PRF:
    """(name, type) pairs matched by normalised name (and type when `typed`)."""

    def key(item: tuple[str, str]) -> tuple[str, str]:
        return normalize_key(item[0]), item[1] if typed else ""

    found = {key(item) for item in predicted}
    wanted = {key(item) for item in gold}
    return PRF.of(len(found & wanted), len(found), len(wanted))


def typed_share(
    predicted: Iterable[tuple[str, str]], gold: Iterable[tuple[str, str]]
) -> float | None:
    """Of the predicted entities whose name matches a gold one, the share typed as the gold one
    is (None when no name matches)."""
    gold_types = {normalize_key(name): kind for name, kind in gold}
    named = {
        normalize_key(name): kind for name, kind in predicted if normalize_key(name) in gold_types
    }
    if not named:
        return None
    return sum(kind == gold_types[name] for name, kind in named.items()) / len(named)
