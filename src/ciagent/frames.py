"""An EpisodeEnrichment as pandas tables and as HTML, for notebooks (extra `notebook`)."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from ciagent.errors import ConfigError
from ciagent.tables import rows

if TYPE_CHECKING:
    from ciagent.types import EpisodeEnrichment

__all__ = ["to_dataframes", "to_html"]


def to_dataframes(result: EpisodeEnrichment) -> dict[str, Any]:
    """One pandas DataFrame per kind (`ciagent.tables.KINDS`): episodes, entities, mentions,
    chapters, topics, quotes, claims and cost, each row with the episode's and run's ids."""
    try:
        import pandas as pd
    except ImportError:
        raise ConfigError(
            "notebook", "tables need pandas: pip install 'ciagent[notebook]'"
        ) from None
    return {name: pd.DataFrame(found) for name, found in rows(result).items()}


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
