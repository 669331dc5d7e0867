"""The library entry points: `enrich` (sync), `aenrich` (async)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ciagent import heap, telemetry
from ciagent.budget import BudgetGuard, Cap, Ledger, SpendLedger
from ciagent.cache import ResponseCache, response_cache
from ciagent.errors import ConfigError, TranscriptError
from ciagent.events import EventCallback
from ciagent.llm.asking import Client
from ciagent.llm.backend import Backend
from ciagent.llm.call import ModelClient
from ciagent.llm.models import ModelSpec
from ciagent.llm.reading import Reading, reading_for
from ciagent.llm.routed import RoutedClient
from ciagent.llm.usage import UsageMeter
from ciagent.provenance import default_episode_id
from ciagent.resolve import backend, check_keys, model_specs, new_router, reading, resolved, routed
from ciagent.routing.policy import Router
from ciagent.settings import Settings
from ciagent.shared import Shared
from ciagent.state import ProgressCallback, RunContext
from ciagent.steps.notes import notes_request
from ciagent.tokens import TokenCounter, token_counter
from ciagent.transcripts import load_transcript
from ciagent.types import EpisodeEnrichment, Transcript
from ciagent.warm import warmed, warmup

__all__ = ["Shared", "aenrich", "enrich", "model_specs", "new_router", "reading"]

T = TypeVar("T")
# tiktoken's count of a text is an estimate for other tokenizers; leave room for the difference.
_TOKENIZER_SLACK = 1.25


def _check_fits(settings: Settings, reading: Reading, spec: ModelSpec, count: TokenCounter) -> None:
    chunk, output = reading.chunk_tokens, reading.output_tokens
    prompt, _, values = notes_request(settings, chunk, not reading.summary_apart)
    overhead = sum(count(m["content"]) for m in prompt.messages(transcript="", **values))
    needed = int((chunk + overhead) * _TOKENIZER_SLACK) + output
    if needed > spec.context_window:
        raise ConfigError(
            "chunk_tokens",
            f"a chunk of {chunk} tokens plus the prompt and {output} output tokens needs about "
            f"{needed} tokens, more than the {spec.context_window} of {spec.model_id}; lower "
            "chunk_tokens",
        )


def _client(
    settings: Settings,
    specs: tuple[ModelSpec, ...],
    cache: ResponseCache | None,
    ledger: SpendLedger | None = None,
    shared: Router | None = None,
) -> Client:
    """One deployment (a name or a model id), or a router over all of them ('auto') or over the
    one named when it has a concurrency limit. `specs` are `model_specs(settings)`."""
    budget = _budget(settings, ledger)
    check_keys(specs)
    if routed(settings):
        router = shared.for_episode() if shared is not None else new_router(settings)
        return RoutedClient(settings, router, UsageMeter(), cache, budget)
    return ModelClient(settings, backend(settings), UsageMeter(), cache, budget)


def _budget(settings: Settings, ledger: SpendLedger | None) -> BudgetGuard | None:
    """The caps of this episode and of its run, held in the shared ledger (the settings' file
    unless one is given); None without caps."""
    if not settings.has_budget:
        return None
    run = settings.run_id or uuid.uuid4().hex  # aenrich sets one
    caps = [
        Cap(f"run:{run}", settings.budget_usd, settings.budget_tokens, kind="run"),
        Cap(
            f"episode:{uuid.uuid4().hex}",
            settings.episode_budget_usd,
            settings.episode_budget_tokens,
            kind="episode",
        ),
    ]
    return BudgetGuard(
        ledger or Ledger(settings.ledger_file, settings.ledger_keep_days),
        caps,
        shared=[f"run:{run}"],
    )


async def aenrich(
    source: str | Path | Transcript,
    settings: Settings | None = None,
    *,
    progress: ProgressCallback | None = None,
    shared: Shared | None = None,
    model: str | Backend | None = None,
    episode_id: str | None = None,
    on_event: EventCallback | None = None,
) -> EpisodeEnrichment:
    """Enrich one episode: a transcript file path or a loaded `Transcript`.

    `settings`: as given; None reads them as the command line does (`Settings.load()`: the
    defaults, then ./ciagent.toml when present, then CIAGENT_* variables). `model`, when given,
    replaces `settings.model`: a name, or a backend object (a `FakeModel`, or any
    `ciagent.llm.backend.Backend`).

    `progress(stage, done, total)` is called as chunks and steps finish. When a budget cap would
    be crossed, no further call is made and the result comes back with what was finished and
    `status == "budget_exceeded"`. `shared` is what the episodes of a batch hold in common
    (`enrich_many` passes it). `episode_id` names the episode in the result's provenance
    (by default the file's name without its extension); the run's id is `settings.run_id`, or
    a new one.

    `on_event` is called with each event of the run as it happens (`ciagent.events`: the
    episode starting and finishing, every model call as it settles, progress), each naming the
    run and the episode. Log records (`ciagent.*`) carry the same ids, and with the `otel` extra
    the episode, its steps and its model calls are OpenTelemetry spans (`ciagent.telemetry`).

    The event loop is never held for long: the transcript is read, and the steps' own work
    (chunking, alignment, segmentation, retrieval, merging) runs, in worker threads.
    """
    settings = settings or Settings.load()
    if model is not None:
        settings = settings.model_copy(update={"model": model})
    if settings.run_id is None:
        settings = settings.model_copy(update={"run_id": uuid.uuid4().hex})
    settings = resolved(settings)
    assert settings.run_id is not None
    episode_id = episode_id or default_episode_id(source)
    origin = (source.source or episode_id) if isinstance(source, Transcript) else str(source)
    with telemetry.episode(settings.run_id, episode_id, origin, on_event) as scope:
        result = await _enrich(source, settings, progress, shared or Shared(), episode_id)
        scope.finished(result)
    return result


async def _enrich(
    source: str | Path | Transcript,
    settings: Settings,
    progress: ProgressCallback | None,
    shared: Shared,
    episode_id: str,
) -> EpisodeEnrichment:
    if not warmed(settings):  # imports, tokenizer, NLP, worker threads: never on the loop
        await asyncio.to_thread(warmup, settings)
    from ciagent.graph import build_graph
    from ciagent.steps.node import settled

    transcript = (
        source
        if isinstance(source, Transcript)
        else await asyncio.to_thread(
            load_transcript, source, max_bytes=settings.max_transcript_bytes
        )
    )
    if not transcript.segments:
        raise TranscriptError(transcript.source or "transcript", "no segments with text")
    count = token_counter()
    specs = model_specs(settings)
    reading = reading_for(settings, specs)
    _check_fits(settings, reading, min(specs, key=lambda s: s.context_window), count)
    settings = settings.model_copy(update={"max_output_tokens": reading.output_tokens})
    own_cache = shared.cache is None and settings.cache
    cache = response_cache(settings) if own_cache else shared.cache
    client: Client | None = None
    context: RunContext | None = None
    try:
        client = _client(settings, specs, cache, shared.ledger, shared.router)
        client.limit(settings.concurrency)  # model calls; the graph's other steps run beside
        context = RunContext(
            settings=settings,
            client=client,
            count_tokens=count,
            reading=reading,
            progress=progress,
            episode_id=episode_id,
        )
        with heap.settled():  # no full collection walks the libraries while it runs
            final = await build_graph(settings.steps).ainvoke(
                {"transcript": transcript}, context=context
            )
    finally:
        if context is not None:
            context.drop_unread()
        if client is not None and client.budget is not None:
            client.budget.close()  # what is left of the episode's admission
        if own_cache and cache is not None:
            cache.close()
    return settled(final, context)


def enrich(
    source: str | Path | Transcript,
    settings: Settings | None = None,
    *,
    progress: ProgressCallback | None = None,
    model: str | Backend | None = None,
    episode_id: str | None = None,
    on_event: EventCallback | None = None,
) -> EpisodeEnrichment:
    """Synchronous `aenrich`. Inside a running event loop (a notebook, an async service) it
    runs the episode on a new loop in a worker thread and waits for it, so the caller's loop is
    blocked until it ends: in async code, await `aenrich` instead."""
    return _run_sync(
        aenrich(
            source,
            settings,
            progress=progress,
            model=model,
            episode_id=episode_id,
            on_event=on_event,
        )
    )


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
