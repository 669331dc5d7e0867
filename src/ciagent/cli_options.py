"""Command-line options shared by the commands that run enrichment (`enrich`, `batch`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from ciagent.settings import Settings

__all__ = [
    "BudgetTokensOption",
    "BudgetUsdOption",
    "CacheDirOption",
    "ConfigOption",
    "ModelOption",
    "NoCacheOption",
    "run_settings",
]

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="Settings file (TOML).")]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="The model for every step: a deployment name, a litellm model id, 'auto', or "
        "module:attribute naming a backend object.",
    ),
]
CacheDirOption = Annotated[
    Path | None, typer.Option("--cache-dir", help="Cache folder (responses, model files).")
]
NoCacheOption = Annotated[
    bool, typer.Option("--no-cache", help="Neither read nor write cached answers.")
]
BudgetUsdOption = Annotated[
    float | None, typer.Option("--budget-usd", help="Stop before the run spends more.")
]
BudgetTokensOption = Annotated[
    int | None, typer.Option("--budget-tokens", help="Stop before the run uses more tokens.")
]


def run_settings(
    config: Path | None,
    model: str | None,
    cache_dir: Path | None,
    no_cache: bool,
    budget_usd: float | None,
    budget_tokens: int | None,
) -> Settings:
    """The settings file (or defaults) with the command line's options over it."""
    from ciagent.settings import Settings

    return Settings.load(
        config,
        given_as={
            "model": "--model",
            "cache_dir": "--cache-dir",
            "cache": "--no-cache",
            "budget_usd": "--budget-usd",
            "budget_tokens": "--budget-tokens",
        },
        model=model,
        cache_dir=cache_dir,
        cache=False if no_cache else None,
        budget_usd=budget_usd,
        budget_tokens=budget_tokens,
    )
