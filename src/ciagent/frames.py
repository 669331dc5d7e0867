"""An EpisodeEnrichment as pandas tables and as HTML, for notebooks (extra `notebook`)."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from ciagent.errors import ConfigError

if TYPE_CHECKING:
    from ciagent.types import EpisodeEnrichment

__all__ = ["to_dataframes", "to_html"]


def _rows(result: EpisodeEnrichment) -> dict[str, list[dict[str, Any]]]:
    return {
        "chapters": [
            {
                "title": c.title,
                "start": c.start,
                "end": c.end,
                "first_segment": c.segment_ids[0],
                "last_segment": c.segment_ids[-1],
                "summary": c.summary,
            }
            for c in result.chapters
        ],
        "topics": [
            {"topic": t.name, "score": t.score, "category": t.category, "evidence": t.segment_ids}
            for t in result.topics
        ],
        "mentions": [
            {
                "entity": e.name,
                "type": e.type.value,
                "verification": e.verification,
                "text": m.text,
                "start": m.start,
                "end": m.end,
                "segments": m.segment_ids,
            }
            for e in result.entities
            for m in e.mentions
        ],
        "quotes": [
            {"text": q.text, "speaker": q.speaker, "start": q.start, "end": q.end}
            for q in result.quotes
        ],
        "claims": [
            {
                "claim": c.text,
                "verdict": c.verdict,
                "judged_by": c.judged_by,
                "in_summary": c.in_summary,
                "evidence": c.evidence_segment_ids,
            }
            for c in result.claims
        ],
        "cost": [{"step": name, **line.model_dump()} for name, line in result.cost.by_step.items()],
    }


def to_dataframes(result: EpisodeEnrichment) -> dict[str, Any]:
    """One pandas DataFrame per kind: chapters, topics, mentions, quotes, claims, cost."""
    try:
        import pandas as pd
    except ImportError:
        raise ConfigError(
            "notebook", "tables need pandas: pip install 'ciagent[notebook]'"
        ) from None
    return {name: pd.DataFrame(rows) for name, rows in _rows(result).items()}


def to_html(result: EpisodeEnrichment) -> str:
    """A short HTML view: status, summary, and what was found, with its cost."""
    report = result.verification
    chapters = "".join(
        f"<li>{c.start:g} to {c.end:g}: {escape(c.title)}</li>" for c in result.chapters
    )
    entities = ", ".join(escape(e.name) for e in result.entities[:15])
    return (
        f"<div><b>{escape(result.status)}</b>: {len(result.entities)} entities, "
        f"{len(result.topics)} topics, {len(result.quotes)} quotes, "
        f"{len(result.chapters)} chapters; {result.cost.calls} calls, ${result.cost.usd:.6f}"
        f"<p>{escape(result.summary)}</p>"
        f"<p>Entities: {entities}</p><ol>{chapters}</ol>"
        f"<p>Grounded {report.grounded} of {report.checked} items checked; claims supported "
        f"{report.claims.supported} of {report.claims.checked}.</p></div>"
    )
