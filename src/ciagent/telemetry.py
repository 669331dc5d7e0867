"""Logs, traces and events of a run, from one context: the run, the episode and the step.

The context lives in contextvars, so it follows the work into asyncio tasks and worker threads
(`asyncio.to_thread` copies it) and two episodes in one loop never mix.

- Logs: stdlib `logging` under `ciagent.*` (`logger(__name__)`); every record carries `run_id`,
  `episode_id` and `step` attributes (empty outside a run), for a formatter
  (`%(episode_id)s`) or a JSON handler. ciagent adds no handler: the host decides.
- Traces: OpenTelemetry spans when `opentelemetry-api` is installed (extra `otel`): one per
  episode (`invoke_agent ciagent`), one per step (`step <name>`) and one per model call
  (`chat <model>`, with the GenAI semantic conventions' attributes: `gen_ai.usage.input_tokens`
  and the like, plus `ciagent.cost.usd`, `ciagent.cache.hit`, `ciagent.deployment`,
  `ciagent.retry.count`). With no SDK configured the API's tracer does nothing.
- Events: `ciagent.events`, handed to the run's `on_event` callback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ciagent.events import (
    CallSettled,
    EpisodeFinished,
    EpisodeStarted,
    Event,
    EventCallback,
    Progress,
)
from ciagent.version import __version__

if TYPE_CHECKING:
    from ciagent.llm.backend import CallTag
    from ciagent.llm.models import ModelSpec
    from ciagent.llm.usage import CallRecord
    from ciagent.types import EpisodeEnrichment

try:
    from opentelemetry import trace as _trace
except ImportError:  # the `otel` extra is not installed: no spans
    _trace = None  # type: ignore[assignment]

__all__ = [
    "CallAccount",
    "ContextLogger",
    "attempted",
    "cache_hit",
    "context_fields",
    "emit",
    "episode",
    "logger",
    "model_call",
    "progress",
    "step",
]

_run: ContextVar[str] = ContextVar("ciagent_run_id", default="")
_episode: ContextVar[str] = ContextVar("ciagent_episode_id", default="")
_step: ContextVar[str] = ContextVar("ciagent_step", default="")
_sink: ContextVar[EventCallback | None] = ContextVar("ciagent_on_event", default=None)
_call: ContextVar[CallAccount | None] = ContextVar("ciagent_call", default=None)

_tracer: Any = _trace.get_tracer("ciagent", __version__) if _trace is not None else None


def context_fields() -> dict[str, str]:
    """The run, episode and step the current code works for ("" where none)."""
    return {"run_id": _run.get(), "episode_id": _episode.get(), "step": _step.get()}


class ContextLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger whose records carry the run, episode and step they were logged in."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        kwargs["extra"] = {**context_fields(), **(kwargs.get("extra") or {})}
        return msg, kwargs


def logger(name: str) -> ContextLogger:
    """The logger of a ciagent module (`logger(__name__)`)."""
    return ContextLogger(logging.getLogger(name), {})


log = logger(__name__)


def emit(event: Event) -> None:
    """Hand `event` to the run's callback; a callback that raises is logged, never the run's
    failure."""
    sink = _sink.get()
    if sink is None:
        return
    try:
        sink(event)
    except Exception:
        log.exception("the on_event callback raised on a %s event", event.kind)


def progress(stage: str, done: int, total: int) -> None:
    """A stage of the current episode moved on (`RunContext.expect` and `report`)."""
    emit(Progress(**_ids(), stage=stage, done=done, total=total))


@contextmanager
def _span(name: str, attributes: dict[str, Any]) -> Iterator[Any]:
    if _tracer is None:
        yield None
        return
    given = {k: v for k, v in attributes.items() if v is not None}
    with _tracer.start_as_current_span(name, attributes=given) as span:
        yield span


def _set(span: Any, attributes: dict[str, Any]) -> None:
    if span is not None:
        span.set_attributes({k: v for k, v in attributes.items() if v is not None})


def _failed(span: Any, error: BaseException) -> None:
    if span is not None:
        from opentelemetry.trace import Status, StatusCode

        span.set_attribute("error.type", type(error).__name__)
        span.set_status(Status(StatusCode.ERROR, str(error)[:200]))


@dataclass
class EpisodeScope:
    """The episode's span, to which its result is added (`finished`)."""

    span: Any
    started: float = field(default_factory=time.perf_counter)

    def finished(self, result: EpisodeEnrichment) -> None:
        cost = result.cost
        _set(
            self.span,
            {
                "ciagent.status": result.status,
                "ciagent.cost.usd": cost.usd,
                "ciagent.calls": cost.calls,
                "ciagent.cache.hits": cost.cache_hits,
                "gen_ai.usage.input_tokens": cost.prompt_tokens,
                "gen_ai.usage.output_tokens": cost.completion_tokens,
            },
        )
        log.info(
            "episode %s: %s, %d calls (%d cached), $%.6f, %.1f s",
            _episode.get(),
            result.status,
            cost.calls,
            cost.cache_hits,
            cost.usd,
            time.perf_counter() - self.started,
        )
        emit(
            EpisodeFinished(
                **_ids(),
                status=result.status,
                usd=cost.usd,
                calls=cost.calls,
                cache_hits=cost.cache_hits,
                wall_s=round(time.perf_counter() - self.started, 3),
            )
        )


def _ids() -> dict[str, str]:
    return {"run_id": _run.get(), "episode_id": _episode.get()}


@contextmanager
def episode(
    run_id: str, episode_id: str, source: str, on_event: EventCallback | None
) -> Iterator[EpisodeScope]:
    """The scope of one episode: its ids in every log record, span and event inside."""
    tokens = (_run.set(run_id), _episode.set(episode_id), _step.set(""), _sink.set(on_event))
    try:
        attributes = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "ciagent",
            "ciagent.run.id": run_id,
            "ciagent.episode.id": episode_id,
            "ciagent.source": source,
        }
        with _span("invoke_agent ciagent", attributes) as span:
            scope = EpisodeScope(span)
            log.info("episode %s started (%s)", episode_id, source)
            emit(EpisodeStarted(**_ids(), source=source))
            try:
                yield scope
            except BaseException as error:
                _failed(span, error)
                log.warning("episode %s failed: %s", episode_id, error)
                emit(
                    EpisodeFinished(
                        **_ids(),
                        status="failed",
                        error=f"{type(error).__name__}: {error}"[:300],
                        wall_s=round(time.perf_counter() - scope.started, 3),
                    )
                )
                raise
    finally:
        for var, token in zip((_run, _episode, _step, _sink), tokens, strict=True):
            var.reset(token)  # type: ignore[attr-defined]


@contextmanager
def step(name: str, chunk: int | None = None) -> Iterator[None]:
    """The scope of one step (of one chunk, for a step sent per chunk)."""
    label = name if chunk is None else f"{name}[{chunk}]"
    token = _step.set(label)
    started = time.perf_counter()
    try:
        attributes = {"ciagent.step": name, "ciagent.chunk.id": chunk}
        with _span(f"step {name}", attributes) as span:
            log.debug("step %s started", label)
            try:
                yield
            except BaseException as error:
                _failed(span, error)
                log.warning("step %s failed: %s", label, error)
                raise
            log.debug("step %s done in %.3f s", label, time.perf_counter() - started)
    finally:
        _step.reset(token)


@contextmanager
def work(step_name: str, what: str) -> Iterator[None]:
    """The scope of work a step began ahead of its place in the graph (`step_name`'s `what`:
    the names step's reading, begun as the episode starts): a span of its own, its real time."""
    with _span(f"{what} {step_name}", {"ciagent.step": step_name}) as span:
        try:
            yield
        except BaseException as error:
            _failed(span, error)
            raise


@dataclass
class CallAccount:
    """What one model call took: each request sent (re-asks and retries), or a cache hit."""

    records: list[CallRecord] = field(default_factory=list)
    cached: bool = False


def attempted(record: CallRecord) -> None:
    """A request of the current call was sent and settled (`ciagent.llm.layers.Metered`)."""
    account = _call.get()
    if account is not None:
        account.records.append(record)


def cache_hit() -> None:
    """The current call was answered from the response cache."""
    account = _call.get()
    if account is not None:
        account.cached = True


def _provider(model_id: str) -> str:
    provider, slash, _ = model_id.partition("/")
    return provider if slash else "openai"


@contextmanager
def model_call(tag: CallTag, spec: ModelSpec, request: dict[str, Any]) -> Iterator[CallAccount]:
    """The scope of one model call: its span, and its `CallSettled` event once it settles.
    `request`: the sampling parameters asked (temperature, max_tokens, seed)."""
    account = CallAccount()
    token = _call.set(account)
    started = time.perf_counter()
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": _provider(spec.model_id),
        "gen_ai.request.model": spec.model_id,
        "gen_ai.request.temperature": request.get("temperature"),
        "gen_ai.request.max_tokens": request.get("max_tokens"),
        "gen_ai.request.seed": request.get("seed"),
        "ciagent.call.step": tag.label,
        "ciagent.deployment": spec.name,
        "ciagent.tier": str(tag.tier.value),
    }
    error: BaseException | None = None
    try:
        with _span(f"chat {spec.model_id}", attributes) as span:
            try:
                yield account
            except BaseException as raised:
                error = raised
                _failed(span, raised)
                raise
            finally:
                _settle(span, account, tag, spec, error, time.perf_counter() - started)
    finally:
        _call.reset(token)


def _settle(
    span: Any,
    account: CallAccount,
    tag: CallTag,
    spec: ModelSpec,
    error: BaseException | None,
    wall_s: float,
) -> None:
    records = account.records
    prompt = sum(r.prompt_tokens for r in records)
    completion = sum(r.completion_tokens for r in records)
    usd = sum(r.usd for r in records)
    outcome = "failed" if error is not None else "cached" if account.cached else "ok"
    _set(
        span,
        {
            "gen_ai.response.model": records[-1].model if records else spec.model_id,
            "gen_ai.usage.input_tokens": prompt,
            "gen_ai.usage.output_tokens": completion,
            "ciagent.cost.usd": usd,
            "ciagent.cache.hit": account.cached,
            "ciagent.attempts": len(records),
            "ciagent.retry.count": max(0, len(records) - 1),
        },
    )
    reason = None if error is None else f"{type(error).__name__}: {error}"[:300]
    if error is not None:
        log.warning(
            "call %s on %s failed after %d requests: %s", tag.label, spec.name, len(records), reason
        )
    else:
        log.debug(
            "call %s on %s: %s, %d requests, %d+%d tokens, $%.6f",
            tag.label,
            spec.name,
            outcome,
            len(records),
            prompt,
            completion,
            usd,
        )
    emit(
        CallSettled(
            **_ids(),
            step=tag.label,
            model=spec.model_id,
            deployment=spec.name,
            outcome=outcome,
            attempts=len(records),
            prompt_tokens=prompt,
            completion_tokens=completion,
            usd=round(usd, 10),
            latency_s=round(wall_s, 4),
            error=reason,
        )
    )
