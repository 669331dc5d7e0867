"""The event loop is never held: a heartbeat task keeps its pace while four long episodes run
on one loop, and four run side by side in little more than the time of one."""

from __future__ import annotations

import asyncio
import time

import pytest

import ciagent
from ciagent import nlp
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
    # spaCy reads each episode's 300 segments (about 1.1 s of CPU each) in ciagent's NLP
    # processes. The loop keeps its pace; four at once took 1.54-1.57x one on 2 cores (the
    # issue's 1.5x holds with the pipeline off, above): the pipeline's CPU and the episodes'
    # own fill both cores.
    settings = Settings(model=FakeModel(latency_s=1.0), cache=False, ner="on")
    one, four, worst = _one_and_four(settings)
    assert worst < 0.050
    assert four <= 2.0 * one, (one, four)  # in one thread it was 2.66x
