"""Chapter boundaries alone (no model) against every dataset's gold chapters.

    python tools/bench_chapters.py [DATASET ...] [--config ciagent.toml]

Defaults to the QMSum meetings under ../shared/datasets/qmsum and evals/golden.jsonl. Boundaries
come from `ciagent.segmentation` with the config's chapter settings; the metrics are the eval
harness's (boundary F1 within 3 segments, Pk, WindowDiff). Takes a second, so settings can be
tried quickly before a full `ciagent eval`.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ciagent.evals.datasets import read_dataset
from ciagent.evals.metrics import boundary_prf, pk, windowdiff
from ciagent.evals.runner import TOLERANCE
from ciagent.segmentation import ChapterBounds, chapter_spans
from ciagent.settings import Settings
from ciagent.transcripts import load_transcript

_ROOT = Path(__file__).resolve().parent.parent


def _defaults() -> list[Path]:
    return [
        *sorted((_ROOT.parent / "shared/datasets/qmsum").glob("*.json")),
        _ROOT / "evals/golden.jsonl",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("datasets", nargs="*", type=Path)
    parser.add_argument("--config", type=Path, default=None)
    args = parser.parse_args()
    settings = Settings.load(args.config)
    bounds = ChapterBounds.of(settings)
    table = Table("episode", "segments", "chapters", "gold", "bndF1", "Pk", "WD")
    rows: list[tuple[float, float, float]] = []
    for dataset in args.datasets or _defaults():
        for episode in read_dataset(dataset):
            if episode.chapters is None:
                continue
            transcript = load_transcript(episode.transcript)
            predicted = [first for first, _ in chapter_spans(transcript, bounds)]
            count = len(transcript.segments)
            row = (
                boundary_prf(predicted, episode.chapters, TOLERANCE).f1,
                pk(predicted, episode.chapters, count),
                windowdiff(predicted, episode.chapters, count),
            )
            rows.append(row)
            table.add_row(
                episode.id,
                str(count),
                str(len(predicted)),
                str(len(episode.chapters)),
                *(f"{value:.2f}" for value in row),
            )
    if rows:
        means = (f"{statistics.mean(r[i] for r in rows):.2f}" for i in range(3))
        table.add_row("mean", "", "", "", *means, style="bold")
    Console().print(table)


if __name__ == "__main__":
    main()
