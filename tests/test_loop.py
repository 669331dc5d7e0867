"""The event loop is never held: a heartbeat task keeps its pace while four long episodes run
on one loop, and four run side by side in little more than the time of one."""

from __future__ import annotations

import asyncio
import time

import pytest

import ciagent
from ciagent import nlp, nlp_pool
from ciagent.pipeline import Step
from ciagent.settings import Settings
from ciagent.testing import FakeModel
from ciagent.types import Segment, Transcript

_WORDS = ["shark", "tagging", "Guadalupe", "Island", "White", "Shark", "Cafe", "robot", "DNA"]
_WORDS += ["ocean", "currents", "kelp", "forest", "Monterey", "Bay", "research", "vessel"]


def episode(segments: int, seed: int) -> Transcript:
    lines = []
    for i in range(segments):
        words = " ".join(_WORDS[(i * 7 + j * 3 + seed) % len(_WORDS)] for j in range(14))
        text = f"Sarah Chen said {words} near Monterey Bay in week {i % 9}."
        lines.append(
            Segment(id=i, start=i * 5.0, end=i * 5.0 + 4.5, speaker="AB"[i % 2], text=text)
        )
    return Transcript(segments=tuple(lines), timed=True, format="txt", source=f"ep{seed}")


async def _run(count: int, settings: Settings) -> tuple[float, list[float]]:
    lags: list[float] = []
    stop = asyncio.Event()

    async def heartbeat() -> None:
        while not stop.is_set():
            asked = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append(time.perf_counter() - asked - 0.005)

    beat = asyncio.create_task(heartbeat())
    started = time.perf_counter()
    await asyncio.gather(*(ciagent.aenrich(episode(300, s), settings) for s in range(count)))
    wall = time.perf_counter() - started
    stop.set()
    await beat
    return wall, lags


def _one_and_four(settings: Settings) -> tuple[float, float, float]:
    ciagent.warmup(settings)
    asyncio.run(_run(1, settings))  # the first episode of a process pays for lazy set-ups
    one, _ = asyncio.run(_run(1, settings))
    four, lags = asyncio.run(_run(4, settings))
    worst = max(lags)
    print(
        f"one {one:.2f} s, four {four:.2f} s ({four / one:.2f}x); worst lag {worst * 1000:.0f} ms"
    )
    return one, four, worst


def test_four_episodes_on_one_loop_never_hold_it_and_overlap() -> None:
    # The fake answers as a model elsewhere would: each call takes a while (a second).
    settings = Settings(model=FakeModel(latency_s=1.0), cache=False, ner="off")
    one, four, worst = _one_and_four(settings)
    assert worst < 0.050
    assert four <= 1.5 * one, (one, four)


@pytest.mark.skipif(not nlp.available(), reason="the nlp extra is not installed")
def test_the_nlp_pipeline_in_its_processes_never_holds_the_loop() -> None:
    # spaCy reads each episode's 300 segments (about 0.9 s of CPU each) in ciagent's NLP
    # processes, from the episode's start, beside the model calls (1.33-1.37x one on 2 cores;
    # read in the names step's place in the graph, it held the summaries back: 1.54-1.57x).
    settings = Settings(model=FakeModel(latency_s=1.0), cache=False, ner="on")
    one, four, worst = _one_and_four(settings)
    assert worst < 0.050
    assert four <= 1.5 * one, (one, four)  # in one thread it was 2.66x


@pytest.mark.skipif(not nlp.available(), reason="the nlp extra is not installed")
def test_a_slow_reading_of_names_never_holds_the_summary_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The reading begins as the episode does and is collected after verification: the summary
    # call is asked while it still runs (a step in the graph holds every step after it).
    read: dict[str, float] = {}
    real = nlp_pool.NlpPool.analyze

    async def slow(self: nlp_pool.NlpPool, transcript: Transcript) -> nlp.TextAnalysis:
        await asyncio.sleep(1.5)
        analysis = await real(self, transcript)
        read["done"] = time.perf_counter()
        return analysis

    monkeypatch.setattr(nlp_pool.NlpPool, "analyze", slow)
    asked: dict[str, float] = {}

    def seen(event: object) -> None:
        step = getattr(event, "step", "")
        if step.startswith("summary"):
            latency = getattr(event, "latency_s", 0.0)
            asked.setdefault("summary", time.perf_counter() - latency)

    settings = Settings(model=FakeModel(latency_s=0.2), cache=False, ner="on", nlp_processes=1)
    result = ciagent.enrich(episode(300, 1), settings, on_event=seen)
    assert asked["summary"] < read["done"] - 0.5, (asked, read)
    assert any(e.produced_by.startswith("spacy/") for e in result.entities)  # still joined in


@pytest.mark.skipif(not nlp.available(), reason="the nlp extra is not installed")
def test_a_reading_no_step_collected_is_cancelled_when_the_episode_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ended: list[str] = []

    async def slow(self: nlp_pool.NlpPool, transcript: Transcript) -> nlp.TextAnalysis:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            ended.append("cancelled")
            raise
        raise AssertionError("not cancelled")

    monkeypatch.setattr(nlp_pool.NlpPool, "analyze", slow)

    def boom(state: object, ctx: object) -> None:
        raise RuntimeError("boom")

    failing = Step("boom", boom, ("chunk",), contained=False)
    settings = Settings(model=FakeModel(), cache=False, ner="on", steps=(failing,))
    reported: list[dict[str, object]] = []

    async def run() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _, c: reported.append(c))
        with pytest.raises(RuntimeError, match="boom"):
            await ciagent.aenrich(episode(40, 1), settings)
        await asyncio.sleep(0.05)  # the cancelled reading settles, while the loop runs on
        assert ended == ["cancelled"]

    asyncio.run(run())
    assert reported == []
