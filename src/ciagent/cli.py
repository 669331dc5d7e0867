"""`ciagent` on the command line: a thin layer over the library.

Exit codes: 0 done, 1 anything else, 2 bad input (transcript, config, usage), 3 budget exceeded.
Heavy imports (langgraph, litellm) happen inside the commands that need them, so `--help` and
input errors answer at once.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from ciagent.batch.command import batch
from ciagent.cli_options import (
    BudgetTokensOption,
    BudgetUsdOption,
    CacheDirOption,
    ConfigOption,
    ModelOption,
    NoCacheOption,
    run_settings,
)
from ciagent.errors import BudgetExceeded, CiagentError, InputError
from ciagent.files import write_atomic

if TYPE_CHECKING:
    from ciagent.cache import ResponseCache
    from ciagent.types import EpisodeEnrichment

__all__ = ["app", "main"]

EXIT_ERROR, EXIT_INPUT, EXIT_BUDGET = 1, 2, 3

app = typer.Typer(
    name="ciagent",
    help="Grounded metadata for podcast and audiobook transcripts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# A log file or pipe gets wide lines rather than a table squeezed to 80 columns.
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 140)


def _fail(code: int, message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    raise typer.Exit(code)


def usage_table(result: EpisodeEnrichment) -> Table:
    """Per step and per model: requests, cache hits, failed attempts, tokens, cost, latency."""
    table = Table(title="cost", title_justify="left", box=None, pad_edge=False)
    for column in ("", "calls", "hits", "retries", "prompt", "completion", "usd", "p50 s", "p95 s"):
        table.add_column(column, justify="right" if column else "left", no_wrap=not column)
    for kind, lines in (("step", result.cost.by_step), ("model", result.cost.by_model)):
        for name, line in lines.items():
            table.add_row(
                f"{kind} {name}",
                str(line.calls),
                str(line.cache_hits),
                str(line.retries),
                str(line.prompt_tokens),
                str(line.completion_tokens),
                f"{line.usd:.6f}",
                f"{line.latency_p50_s:.2f}",
                f"{line.latency_p95_s:.2f}",
            )
    return table


@app.command()
def enrich(
    path: Annotated[
        Path, typer.Argument(help="Transcript: .txt, .srt, .vtt, Whisper or QMSum .json")
    ],
    out: Annotated[
        str, typer.Option("--out", "-o", help="Write the JSON result to FILE, or '-' for stdout.")
    ] = "-",
    config: ConfigOption = None,
    model: ModelOption = None,
    cache_dir: CacheDirOption = None,
    no_cache: NoCacheOption = False,
    budget_usd: BudgetUsdOption = None,
    budget_tokens: BudgetTokensOption = None,
) -> None:
    """Enrich one episode: summary, topics, entities with their mentions, quotes."""
    from ciagent.progress import StageProgress
    from ciagent.transcripts import load_transcript

    try:
        settings = run_settings(config, model, cache_dir, no_cache, budget_usd, budget_tokens)
        transcript = load_transcript(path, max_bytes=settings.max_transcript_bytes)
        from ciagent.api import enrich as run_enrich
        from ciagent.preflight import preflight

        preflight(settings)

        with StageProgress(err) as progress:
            result = run_enrich(transcript, settings, progress=progress.update)
    except InputError as exc:
        _fail(EXIT_INPUT, str(exc))
    except BudgetExceeded as exc:
        _fail(EXIT_BUDGET, str(exc))
    except CiagentError as exc:
        _fail(EXIT_ERROR, str(exc))
    text = result.to_json()
    exceeded = result.status == "budget_exceeded"
    if out == "-":
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    else:
        write_atomic(Path(out), text + "\n")
    cost = result.cost
    if cost.by_step:
        err.print(usage_table(result))
    err.print(
        f"{result.status}: {len(result.entities)} entities, {len(result.topics)} topics, "
        f"{len(result.quotes)} quotes; {cost.calls} calls, {cost.prompt_tokens} prompt + "
        f"{cost.completion_tokens} completion tokens, ${cost.usd:.6f}, {cost.wall_s:.1f} s"
        + ("" if out == "-" else f" -> {out}"),
        soft_wrap=True,
    )
    if exceeded:
        _fail(EXIT_BUDGET, "budget exceeded: the result above holds what was finished")


app.command()(batch)

cache_app = typer.Typer(help="Inspect or empty the response cache.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


def _response_cache(config: Path | None, cache_dir: Path | None) -> ResponseCache:
    from ciagent.cache import response_cache
    from ciagent.settings import Settings

    try:
        settings = Settings.load(config, cache_dir=cache_dir)
    except InputError as exc:
        _fail(EXIT_INPUT, str(exc))
    return response_cache(settings)


@cache_app.command("stats")
def cache_stats(config: ConfigOption = None, cache_dir: CacheDirOption = None) -> None:
    """Entries and size of the response cache."""
    cache = _response_cache(config, cache_dir)
    try:
        stats = cache.stats()
    finally:
        cache.close()
    sys.stdout.write(f"{stats.directory}: {stats.entries} entries, {stats.bytes} bytes\n")


@cache_app.command("clear")
def cache_clear(config: ConfigOption = None, cache_dir: CacheDirOption = None) -> None:
    """Remove every cached answer."""
    cache = _response_cache(config, cache_dir)
    try:
        removed = cache.clear()
    finally:
        cache.close()
    sys.stdout.write(f"{cache.directory}: removed {removed} entries\n")


@cache_app.command("prune")
def cache_prune(
    config: ConfigOption = None,
    cache_dir: CacheDirOption = None,
    max_mb: Annotated[
        int | None,
        typer.Option("--max-mb", min=1, help="Cache size to prune to (default: cache_max_mb)."),
    ] = None,
    keep_days: Annotated[
        float | None,
        typer.Option(
            "--keep-days", min=0.0, help="Ledger rows of runs idle longer go (ledger_keep_days)."
        ),
    ] = None,
) -> None:
    """Drop the least recently used cached answers past the size limit, and the spend ledger's
    rows of runs idle longer than the age limit."""
    from ciagent.budget import Ledger
    from ciagent.cache import response_cache
    from ciagent.settings import Settings

    try:
        settings = Settings.load(
            config,
            given_as={"cache_dir": "--cache-dir", "cache_max_mb": "--max-mb"},
            cache_dir=cache_dir,
            cache_max_mb=max_mb,
        )
    except InputError as exc:
        _fail(EXIT_INPUT, str(exc))
    cache = response_cache(settings)
    try:
        dropped, stats = cache.prune(), cache.stats()
    finally:
        cache.close()
    sys.stdout.write(
        f"{stats.directory}: dropped {dropped} entries; {stats.entries} left, {stats.bytes} bytes "
        f"(limit {settings.cache_max_mb} MB)\n"
    )
    if settings.ledger_file.is_file():
        ledger = Ledger(settings.ledger_file, settings.ledger_keep_days, prune_on_open=False)
        gone = ledger.prune(keep_days)
        sys.stdout.write(
            f"{settings.ledger_file}: pruned {gone} rows of runs idle over "
            f"{settings.ledger_keep_days if keep_days is None else keep_days:g} days; "
            f"{ledger.rows()} left\n"
        )


@app.command()
def models(config: ConfigOption = None) -> None:
    """List the model deployments: tier, price in $/Mtok, context window, chunk size, endpoint,
    health."""
    from ciagent.errors import ModelAssetError
    from ciagent.llm.assets import EMBEDDED_MODELS
    from ciagent.llm.models import ModelSpec, resolve_model
    from ciagent.llm.reading import reading_for
    from ciagent.llm.routed import step_tier_lines
    from ciagent.routing.registry import embedded_price, probe
    from ciagent.settings import Settings

    try:
        settings = Settings.load(config)
    except InputError as exc:
        _fail(EXIT_INPUT, str(exc))

    def chunk_of(spec: ModelSpec) -> str:
        """Transcript tokens per notes call on this model alone."""
        return str(reading_for(settings, [spec]).chunk_tokens)

    def embedded_health(name: str) -> str:
        asset = EMBEDDED_MODELS[name]
        try:
            asset.part_paths()
        except ModelAssetError:
            return f"not installed (extra: {asset.extra})"
        return "ready"

    table = Table(box=None, pad_edge=False)
    for column in (
        "name",
        "model",
        "tier",
        "$/Mtok in",
        "$/Mtok out",
        "context",
        "chunk",
        "endpoint",
        "health",
    ):
        table.add_column(column, justify="right" if column.startswith("$") else "left")
    for name in EMBEDDED_MODELS:
        price = embedded_price(f"embedded/{name}")
        assert price is not None
        table.add_row(
            "embedded",
            f"embedded/{name}",
            "-",
            f"{price.input_usd_per_mtok:.4f}",
            f"{price.output_usd_per_mtok:.4f}",
            str(settings.embedded_context),
            chunk_of(resolve_model(f"embedded/{name}", settings.embedded_context)),
            "in-process (llama.cpp)",
            embedded_health(name),
        )
    for deployment in settings.deployments:
        price_in, price_out = deployment.usd_per_mtok()
        local = deployment.model.removeprefix("embedded/")
        table.add_row(
            deployment.name,
            deployment.model,
            deployment.tier.value,
            f"{price_in:.4f}",
            f"{price_out:.4f}",
            str(deployment.context_window),
            chunk_of(ModelSpec.of(deployment)),
            "in-process (llama.cpp)"
            if local in EMBEDDED_MODELS
            else deployment.api_base or "provider default",
            embedded_health(local) if local in EMBEDDED_MODELS else probe(deployment),
        )
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    console.print(table)
    for line in step_tier_lines(settings):
        console.print(line)


@app.command("eval")
def eval_(
    datasets: Annotated[
        list[Path], typer.Argument(help="QMSum meeting .json files or golden .jsonl files.")
    ],
    config: Annotated[
        list[Path] | None,
        typer.Option("--config", "-c", help="A settings file to compare; repeat for several."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write every score as JSON to FILE.")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model for every config.")
    ] = None,
    cache_dir: CacheDirOption = None,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache",
            help="Ask the model every call: cost and wall-time columns then measure the "
            "configs, not what an earlier run left in the cache.",
        ),
    ] = False,
) -> None:
    """Enrich every episode under every config; print quality and cost side by side."""
    from ciagent.evals import evaluate, read_dataset
    from ciagent.evals.report import means_table, scores_table
    from ciagent.settings import Settings

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    try:
        episodes = [episode for path in datasets for episode in read_dataset(path)]
        given: dict[str, object] = {
            "model": model,
            "cache_dir": cache_dir,
            "cache": False if no_cache else None,
        }
        named = {"model": "--model", "cache_dir": "--cache-dir", "cache": "--no-cache"}
        configs = {
            name: Settings.load(path, None, named, **given)
            for name, path in ({p.stem: p for p in config} if config else {"default": None}).items()
        }
        scores = evaluate(
            episodes,
            configs,
            on_score=lambda row: err.print(f"{row.config} {row.episode}: {row.status}"),
        )
    except InputError as exc:
        _fail(EXIT_INPUT, str(exc))
    except CiagentError as exc:
        _fail(EXIT_ERROR, str(exc))
    for name in configs:
        console.print(scores_table(scores, name))
    console.print(means_table(scores))
    if out is not None:
        write_atomic(out, json.dumps([s.model_dump() for s in scores], indent=2) + "\n")


@app.command()
def schema(config: ConfigOption = None) -> None:
    """Print the JSON schema of the enrichment output (EpisodeEnrichment), with what the
    built-in extractors (ciagent.signals) and the extractors and steps of the settings (the
    config file, CIAGENT_EXTRACTORS, CIAGENT_STEPS) put in `extras`."""
    from ciagent.settings import Settings
    from ciagent.signals import built_in
    from ciagent.types import EpisodeEnrichment

    try:
        settings = Settings.load(config)
    except InputError as exc:
        _fail(EXIT_INPUT, str(exc))
    extractors = {e.name: e for e in (*built_in(), *settings.extractors)}
    extras = {name: (e.result_model(), e.listed) for name, e in extractors.items()}
    extras |= {s.name: (s.result, False) for s in settings.steps if s.result is not None}
    sys.stdout.write(json.dumps(EpisodeEnrichment.json_schema(extras), indent=2) + "\n")


def _interrupted(signum: int, frame: object) -> None:
    """Ctrl-C ends the process at once with 130: what is finished is already on disk (answers in
    the response cache, a batch's result files, the ledger), and worker threads still inside a
    step (the NLP pipeline, a model generation) would otherwise hold the exit until they end."""
    err.print("interrupted: what was finished is kept (rerun to go on from the cache)")
    sys.stderr.flush()
    os._exit(130)


def _quiet_litellm_logs() -> None:
    """litellm's and instructor's loggers lowered to errors: done for the CLI, a process of
    ciagent's own, never to a host that imports the library."""
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "instructor"):
        logging.getLogger(name).setLevel(logging.ERROR)


def main() -> None:
    signal.signal(signal.SIGINT, _interrupted)
    _quiet_litellm_logs()
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
