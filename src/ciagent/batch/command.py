"""`ciagent batch`: many episodes into an output folder, with a progress bar, resumable."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ciagent import cli_options as opt
from ciagent.batch.runner import BatchItem, BatchSummary, run_batch
from ciagent.batch.sources import EpisodeSource, read_sources
from ciagent.batch.store import ResultStore
from ciagent.errors import CiagentError, InputError
from ciagent.preflight import preflight
from ciagent.settings import Settings
from ciagent.tables import check_target, export

__all__ = ["batch", "summary_table"]

EXIT_ERROR, EXIT_INPUT, EXIT_BUDGET = 1, 2, 3  # as `ciagent enrich`


def summary_table(summary: BatchSummary, out: Path) -> Table:
    table = Table(title=f"batch -> {out}", title_justify="left", box=None, pad_edge=False)
    table.add_column("")
    table.add_column("", justify="right")
    tokens = summary.prompt_tokens + summary.completion_tokens
    rows = [
        ("episodes", str(summary.total)),
        ("already finished", str(summary.skipped)),
        ("failed before, not retried", str(summary.held_back)),
        ("done now", str(summary.done)),
        ("failed", str(summary.failed)),
        ("not started", str(summary.not_started)),
        ("failed, all runs", str(summary.outstanding)),
        ("model calls", str(summary.calls)),
        ("tokens", f"{summary.prompt_tokens} prompt + {summary.completion_tokens} completion"),
        ("spend", f"${summary.usd:.6f}"),
        ("wall time", f"{summary.wall_s:.1f} s"),
        ("tokens/s", f"{tokens / summary.wall_s:.0f}" if summary.wall_s else "-"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def batch(
    source: Annotated[
        Path, typer.Argument(help="A folder of transcripts, or a JSONL manifest {id, path, ...}.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (one JSON per episode).")],
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-j", min=1, help="Episodes in flight at once.")
    ] = 4,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Also rerun the episodes in failures.jsonl.")
    ] = False,
    on_ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            help="Run on Ray: 'local' (start one here), 'auto' (this node's cluster) or "
            "ray://HOST:10001. Needs the ray extra.",
        ),
    ] = None,
    actors: Annotated[
        int, typer.Option("--actors", min=1, help="With --ray: Ray Data actors.")
    ] = 2,
    table: Annotated[
        Path | None,
        typer.Option(
            "--table",
            help="Also write every finished episode's entities, mentions, chapters, topics, "
            "quotes and claims as rows, with episode ids: a .parquet (extra 'table') or "
            ".jsonl file.",
        ),
    ] = None,
    config: opt.ConfigOption = None,
    model: opt.ModelOption = None,
    cache_dir: opt.CacheDirOption = None,
    no_cache: opt.NoCacheOption = False,
    budget_usd: opt.BudgetUsdOption = None,
    budget_tokens: opt.BudgetTokensOption = None,
) -> None:
    """Enrich many episodes; a rerun skips the finished ones and resumes."""
    err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 140)
    try:
        settings = opt.run_settings(config, model, cache_dir, no_cache, budget_usd, budget_tokens)
        sources = read_sources(source)
        if table is not None:
            check_target(table)
        preflight(settings)  # the run's own problems stop it once, before any episode
    except InputError as exc:
        err.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(EXIT_INPUT) from exc
    except CiagentError as exc:
        err.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(EXIT_ERROR) from exc
    if on_ray is not None:
        try:
            summary = _on_ray(on_ray, sources, out, settings, actors, concurrency, retry_failed)
        except RayUnreachable as exc:
            err.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
            raise typer.Exit(EXIT_ERROR) from exc
        _report(err, summary, out, sources, table)
        return
    progress = Progress(
        TextColumn("[bold]batch"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=err,
        transient=not err.is_terminal,
    )

    def on_item(item: BatchItem | None, summary: BatchSummary) -> None:
        tokens = summary.prompt_tokens + summary.completion_tokens
        rate = tokens / summary.wall_s if summary.wall_s else 0.0
        progress.update(
            task,
            completed=summary.skipped + summary.done + summary.failed,
            status=f"{summary.done} done, {summary.failed} failed, "
            f"${summary.usd:.4f}, {rate:.0f} tok/s",
        )
        if item is not None and item.error is not None:
            progress.console.print(f"[red]failed[/] {item.source.id}: {item.error}", soft_wrap=True)
        elif item is not None and item.result is not None and item.result.status == "partial":
            parts = ", ".join(sorted({f.step for f in item.result.failures})) or "some parts"
            progress.console.print(
                f"[yellow]partial[/] {item.source.id}: {parts} failed", soft_wrap=True
            )
        elif item is not None and not err.is_terminal:  # no bar off a terminal: a line each
            status = item.result.status if item.result is not None else "failed"
            progress.console.print(
                f"{summary.skipped + summary.done + summary.failed}/{len(sources)} "
                f"{item.source.id}: {status}, ${summary.usd:.4f} so far",
                soft_wrap=True,
                highlight=False,
            )

    with progress:
        task = progress.add_task("batch", total=len(sources), status="")
        summary = asyncio.run(
            run_batch(
                sources,
                out,
                settings,
                concurrency=concurrency,
                retry_failed=retry_failed,
                on_item=on_item,
            )
        )
    _report(err, summary, out, sources, table)


def _on_ray(
    address: str,
    sources: list[EpisodeSource],
    out: Path,
    settings: Settings,
    actors: int,
    concurrency: int,
    retry_failed: bool,
) -> BatchSummary:
    try:
        import ray

        from ciagent.batch.ray import run_batch as run_on_ray
    except ImportError as exc:
        raise typer.BadParameter("needs the ray extra: pip install 'ciagent[ray]'") from exc
    try:
        ray.init(address=None if address == "local" else address, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RayUnreachable(address, exc) from exc
    try:
        return run_on_ray(
            sources,
            out,
            settings,
            actors=actors,
            concurrency=concurrency,
            retry_failed=retry_failed,
        )
    finally:
        ray.shutdown()


class RayUnreachable(CiagentError):
    """No Ray cluster at the address `--ray` gave (or none could be started)."""

    def __init__(self, address: str, error: Exception) -> None:
        where = (
            "on this node (start one with `ray start --head`)"
            if address == "auto"
            else f"at {address}"
        )
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        super().__init__(f"--ray {address}: no Ray cluster reachable {where}: {reason}")


def _report(
    err: Console,
    summary: BatchSummary,
    out: Path,
    sources: list[EpisodeSource],
    table: Path | None,
) -> None:
    """The summary table, and the rows of the finished episodes in `table`; exit 3 when the
    budget stopped the batch, 1 when episodes of the folder are still failed (this run's or an
    earlier one's)."""
    err.print(summary_table(summary, out))
    if table is not None:
        results = ResultStore(out).results([s.id for s in sources])
        export(results, table)
        err.print(f"{len(results)} episodes' rows in {table}")
    if summary.outstanding:
        err.print(
            f"{summary.outstanding} episodes failed: see {out / 'failures.jsonl'} "
            "(--retry-failed reruns them)"
        )
    if summary.budget_reached:
        err.print(
            f"budget reached: {summary.not_started} episodes not started; "
            "rerun (with --retry-failed for the ones cut short) to go on"
        )
        raise typer.Exit(EXIT_BUDGET)
    if summary.outstanding:
        raise typer.Exit(EXIT_ERROR)
