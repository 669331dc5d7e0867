"""What a host sees of a run: log records with the run, episode and step, OpenTelemetry spans
(episode -> step -> model call, GenAI attributes), the events of every call as it settles, and
a batch that stops cleanly when cancelled."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import ciagent
from ciagent.budget import Ledger
from ciagent.errors import ModelCallError
from ciagent.events import CallSettled, EpisodeFinished, EpisodeStarted, Event, Progress
from ciagent.settings import Settings
from ciagent.testing import FakeModel, FakeRequest, default_answer
from tests.helpers import transcript_of

_EXPORTER = InMemorySpanExporter()
_PROVIDER = TracerProvider()
_PROVIDER.add_span_processor(SimpleSpanProcessor(_EXPORTER))
trace.set_tracer_provider(_PROVIDER)  # once per process: the API's global provider

TEXT = "\n".join(
    f"{'Maya' if i % 2 else 'Sarah'}: Sarah Chen tagged white sharks near Guadalupe Island, "
    f"week {i}, with the Monterey Bay team and a robot called Saildrone."
    for i in range(40)
)


@pytest.fixture
def spans() -> InMemorySpanExporter:
    _EXPORTER.clear()
    return _EXPORTER


def test_the_span_tree_is_episode_then_steps_then_model_calls(
    spans: InMemorySpanExporter,
) -> None:
    fake = FakeModel(input_usd_per_mtok=1.0, output_usd_per_mtok=2.0)
    result = ciagent.enrich(
        transcript_of(TEXT), Settings(model=fake, cache=False), episode_id="ep-7"
    )
    done = spans.get_finished_spans()
    by_id = {s.context.span_id: s for s in done}
    (episode,) = [s for s in done if s.name == "invoke_agent ciagent"]
    assert episode.parent is None
    assert episode.attributes["ciagent.episode.id"] == "ep-7"
    assert episode.attributes["ciagent.run.id"] == result.provenance.run_id
    assert episode.attributes["ciagent.status"] == result.status
    steps = [s for s in done if s.name.startswith("step ")]
    assert {s.name for s in steps} >= {"step chunk", "step notes", "step merge", "step finalize"}
    assert all(s.parent is not None and s.parent.span_id == episode.context.span_id for s in steps)
    notes = [s for s in steps if s.name == "step notes"]
    assert sorted(s.attributes["ciagent.chunk.id"] for s in notes) == list(range(len(notes)))
    calls = [s for s in done if s.name.startswith("chat ")]
    assert len(calls) == result.cost.calls > 0
    for call in calls:
        parent = by_id[call.parent.span_id]
        assert parent.name.startswith("step ")  # every call inside the step that made it
        attributes = call.attributes
        assert attributes["gen_ai.operation.name"] == "chat"
        assert attributes["gen_ai.request.model"] == fake.model_id
        assert attributes["gen_ai.provider.name"] == "fake"
        assert attributes["ciagent.deployment"] == fake.model_id
        assert attributes["ciagent.cache.hit"] is False
        assert attributes["ciagent.retry.count"] == 0
        assert attributes["gen_ai.usage.input_tokens"] > 0
    usd = sum(c.attributes["ciagent.cost.usd"] for c in calls)
    assert usd == pytest.approx(result.cost.usd)
    tokens = sum(c.attributes["gen_ai.usage.output_tokens"] for c in calls)
    assert tokens == result.cost.completion_tokens


def test_a_cache_hit_and_a_retry_show_on_the_call_spans(
    spans: InMemorySpanExporter, tmp_path: Path
) -> None:
    failed: set[str] = set()

    def flaky(request: FakeRequest) -> dict[str, Any] | str:
        if request.schema_name == "ChapterTitles" and "titles" not in failed:
            failed.add("titles")
            raise ConnectionError("connection reset")
        return default_answer(request)

    fake = FakeModel(respond=flaky)
    settings = Settings(model=fake, cache_dir=tmp_path, max_retries=2)
    ciagent.enrich(transcript_of(TEXT), settings)
    (titles,) = [
        s for s in spans.get_finished_spans() if s.attributes.get("ciagent.call.step") == "chapters"
    ]
    assert titles.attributes["ciagent.retry.count"] == 1
    assert titles.attributes["ciagent.attempts"] == 2
    spans.clear()
    again = ciagent.enrich(transcript_of(TEXT), settings)
    calls = [s for s in spans.get_finished_spans() if s.name.startswith("chat ")]
    assert again.cost.calls == 0
    assert calls
    assert all(c.attributes["ciagent.cache.hit"] is True for c in calls)
    assert all(c.attributes["ciagent.attempts"] == 0 for c in calls)


def test_log_records_carry_run_episode_and_step(caplog: pytest.LogCaptureFixture) -> None:
    def one_chunk_fails(request: FakeRequest) -> dict[str, Any] | str:
        if request.schema_name == "ChunkNotes" and " week 0, " in request.prompt:
            raise ModelCallError("fake", "the server said no")
        return default_answer(request)

    fake = FakeModel(respond=one_chunk_fails)
    settings = Settings(model=fake, cache=False, chunk_tokens=300)
    longer = "\n".join(
        f"Sarah: Sarah Chen tagged a white shark in week {i}, at dawn." for i in range(160)
    )
    with caplog.at_level(logging.DEBUG, logger="ciagent"):
        result = ciagent.enrich(transcript_of(longer), settings, episode_id="ep-9")
    assert result.status == "partial"
    ours = [r for r in caplog.records if r.name.startswith("ciagent")]
    assert ours
    assert all(r.episode_id == "ep-9" for r in ours)  # type: ignore[attr-defined]
    assert all(r.run_id == result.provenance.run_id for r in ours)  # type: ignore[attr-defined]
    (failed,) = [r for r in ours if "notes failed" in r.getMessage()]
    assert failed.levelno == logging.WARNING
    assert failed.step == "notes[0]"  # type: ignore[attr-defined]
    assert any(r.getMessage().startswith("episode ep-9: partial") for r in ours)


def test_every_call_is_reported_as_it_settles() -> None:
    events: list[Event] = []
    fake = FakeModel(input_usd_per_mtok=1.0, output_usd_per_mtok=2.0)
    result = ciagent.enrich(
        transcript_of(TEXT),
        Settings(model=fake, cache=False),
        episode_id="e1",
        on_event=events.append,
    )
    assert isinstance(events[0], EpisodeStarted)
    assert isinstance(events[-1], EpisodeFinished)
    assert events[-1].status == result.status
    assert {e.episode_id for e in events} == {"e1"}
    calls = [e for e in events if isinstance(e, CallSettled)]
    assert len(calls) == result.cost.calls
    assert sum(c.usd for c in calls) == pytest.approx(result.cost.usd)
    assert sum(c.prompt_tokens for c in calls) == result.cost.prompt_tokens
    assert all(c.outcome == "ok" and c.attempts == 1 for c in calls)
    progress = [e for e in events if isinstance(e, Progress)]
    assert any(p.stage == "notes" and p.done == p.total > 0 for p in progress)
    # Each call is told before the episode ends, not after.
    first_call = events.index(calls[0])
    assert first_call < len(events) - 1


def test_a_callback_that_raises_is_logged_not_the_run_s_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(event: Event) -> None:
        raise RuntimeError("the host's bug")

    with caplog.at_level(logging.ERROR, logger="ciagent"):
        result = ciagent.enrich(
            transcript_of(TEXT), Settings(model=FakeModel(), cache=False), on_event=broken
        )
    assert result.status == "complete"
    assert any("on_event callback raised" in r.getMessage() for r in caplog.records)


def test_enrich_many_reports_each_episode_s_events_by_its_id() -> None:
    events: list[Event] = []
    sources = [(f"ep{n}", transcript_of(TEXT)) for n in range(3)]

    async def collect() -> list[str]:
        settings = Settings(model=FakeModel(), cache=False)
        return [
            item.source.id
            async for item in ciagent.enrich_many(
                sources, settings, concurrency=3, on_event=events.append
            )
        ]

    finished = asyncio.run(collect())
    assert sorted(finished) == ["ep0", "ep1", "ep2"]
    ends = [e for e in events if isinstance(e, EpisodeFinished)]
    assert sorted(e.episode_id for e in ends) == ["ep0", "ep1", "ep2"]
    for episode in ("ep0", "ep1", "ep2"):
        assert any(isinstance(e, CallSettled) and e.episode_id == episode for e in events)
    assert len({e.run_id for e in events}) == 1  # one batch, one run


def test_a_cancelled_batch_stops_its_episodes_and_releases_their_holds(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite"
    settings = Settings(
        model=FakeModel(latency_s=0.05, input_usd_per_mtok=1.0),
        cache=False,
        ledger_path=ledger,
        budget_usd=100.0,
        run_id="cancelled-batch",
    )
    sources = [(f"ep{n}", transcript_of(TEXT)) for n in range(6)]
    seen: list[str] = []

    async def consume() -> None:
        async for item in ciagent.enrich_many(sources, settings, concurrency=2):
            seen.append(item.source.id)  # noqa: PERF401  (read while the batch runs)

    async def main() -> set[asyncio.Task[Any]]:
        task = asyncio.create_task(consume())
        while not seen:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}

    left = asyncio.run(main())
    assert left == set()  # no episode left running
    assert 1 <= len(seen) < len(sources)
    assert Ledger(ledger).held("run:cancelled-batch").usd == 0  # every hold released
