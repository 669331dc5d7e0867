"""Quality metrics, from maintained packages where one exists.

Segmentations are compared as boundary positions over a transcript's segments: a boundary `b`
means a chapter starts at segment `b` (0 is never a boundary). Pk and WindowDiff come from nltk
(`nltk.metrics.segmentation`), ROUGE from Google's `rouge-score`; boundary precision/recall with a
tolerance and entity precision/recall are counted here (one-to-one matching).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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


Named = tuple[str, str] | tuple[str, str, Sequence[str]]
"""An entity to score: (name, type), or (name, type, aliases)."""


def _forms(item: Named) -> frozenset[str]:
    aliases: Sequence[str] = item[2] if len(item) == 3 else ()
    return frozenset(normalize_key(n) for n in (item[0], *aliases))


def _matches(
    predicted: Iterable[Named], gold: Iterable[tuple[str, str]], typed: bool
) -> tuple[list[tuple[Named, tuple[str, str]]], int, int]:
    """Predicted entities paired one to one with the gold ones they name (by name or alias,
    and type when `typed`), with how many distinct entities each side has."""
    found = list({(normalize_key(p[0]), p[1] if typed else ""): p for p in predicted}.values())
    wanted = list({(normalize_key(g[0]), g[1] if typed else ""): g for g in gold}.values())
    pairs: list[tuple[Named, tuple[str, str]]] = []
    free = list(found)
    for item in wanted:
        key = normalize_key(item[0])
        match = next((p for p in free if key in _forms(p) and (not typed or p[1] == item[1])), None)
        if match is not None:
            free.remove(match)
            pairs.append((match, item))
    return pairs, len(found), len(wanted)


def entity_prf(
    predicted: Iterable[Named], gold: Iterable[tuple[str, str]], typed: bool = True
) -> PRF:
    """Entities matched one to one by normalised name or alias (and type when `typed`): an
    entity listed as "National Oceanic and Atmospheric Administration" with the alias "NOAA"
    names the gold "NOAA"."""
    pairs, found, wanted = _matches(predicted, gold, typed)
    return PRF.of(len(pairs), found, wanted)


def typed_share(predicted: Iterable[Named], gold: Iterable[tuple[str, str]]) -> float | None:
    """Of the predicted entities that name a gold one (by name or alias), the share typed as
    the gold one is (None when none does)."""
    pairs, _, _ = _matches(predicted, gold, typed=False)
    if not pairs:
        return None
    return sum(p[1] == g[1] for p, g in pairs) / len(pairs)
