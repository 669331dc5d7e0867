"""Tables of eval scores: every episode per config, and the configs side by side."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from ciagent.evals.runner import EpisodeScore, mean_scores

__all__ = ["COLUMNS", "means_table", "scores_table"]

# (column, header, format)
COLUMNS: list[tuple[str, str, str]] = [
    ("chapters", "chap", "{:.0f}"),
    ("boundary_f1", "bndF1", "{:.2f}"),
    ("pk", "Pk", "{:.2f}"),
    ("windowdiff", "WD", "{:.2f}"),
    ("rouge1", "R-1", "{:.3f}"),
    ("rouge2", "R-2", "{:.3f}"),
    ("rougeL", "R-L", "{:.3f}"),
    ("entity_f1", "entF1", "{:.2f}"),
    ("typed_correct", "typed", "{:.2f}"),
    ("not_metadata", "junk", "{:.2f}"),
    ("grounding_rate", "ground", "{:.2f}"),
    ("claims_supported", "claims", "{:.2f}"),
    ("segment_f1", "segF1", "{:.2f}"),
    ("safety_precision", "safeP", "{:.2f}"),
    ("safety_recall", "safeR", "{:.2f}"),
    ("people_f1", "pplF1", "{:.2f}"),
    ("usd", "usd", "{:.5f}"),
    ("calls", "calls", "{:.0f}"),
    ("tokens", "tokens", "{:.0f}"),
    ("wall_s", "wall s", "{:.1f}"),
]


def _cell(value: object, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def scores_table(scores: Sequence[EpisodeScore], config: str) -> Table:
    table = Table(title=f"config {config}", title_justify="left", box=None, pad_edge=False)
    table.add_column("episode")
    table.add_column("status")
    for _, header, _ in COLUMNS:
        table.add_column(header, justify="right")
    for row in scores:
        if row.config == config:
            table.add_row(
                row.episode,
                row.status,
                *(_cell(getattr(row, name), fmt) for name, _, fmt in COLUMNS),
            )
    return table


def means_table(scores: Sequence[EpisodeScore]) -> Table:
    table = Table(title="means, side by side", title_justify="left", box=None, pad_edge=False)
    table.add_column("config")
    for _, header, _ in COLUMNS:
        table.add_column(header, justify="right")
    for config, means in mean_scores(scores).items():
        table.add_row(config, *(_cell(means.get(name), fmt) for name, _, fmt in COLUMNS))
    return table
