"""The NLP pipeline in a process of ciagent's own reads what it reads in this one; a process
that dies fails only what it held, and the next request starts another."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

import ciagent
from ciagent import nlp
from ciagent.errors import ModelAssetError
from ciagent.nlp_pool import NlpPool
from ciagent.settings import Settings
from ciagent.testing import FakeModel
from ciagent.types import Segment, Transcript

pytestmark = pytest.mark.skipif(not nlp.available(), reason="the nlp extra is not installed")

_LINES = [
    "Sarah Chen flew to Guadalupe Island with the Monterey Bay Aquarium in March.",
    "{vocalsound} We tagged the white sharks near the cafe, uh, with Dr. Peter Klimley.",
    "The paper came out in Nature last year, and the BBC covered it.",
    "mm-hmm",
]


def _transcript() -> Transcript:
    segments = tuple(
        Segment(id=i, start=i * 4.0, end=i * 4.0 + 3.5, speaker="AB"[i % 2], text=t)
        for i, t in enumerate(_LINES * 3)
    )
    return Transcript(segments=segments, timed=True, format="txt", source="pool")


@pytest.fixture
def pool() -> NlpPool:
    made = NlpPool(1)
    made.start()
    yield made
    made.close()


def test_a_process_reads_what_this_one_reads(pool: NlpPool) -> None:
    transcript = _transcript()
    there = asyncio.run(pool.analyze(transcript))
    here = nlp.analyze(transcript)
    assert there == here
    assert {p.text for p in there.names} >= {"Sarah Chen", "Guadalupe Island"}
    assert any(p.segment_id == 5 for p in there.names)  # ids, not places, in the answer


def test_a_dead_process_fails_what_it_held_and_the_next_request_starts_another(
    pool: NlpPool,
) -> None:
    (worker,) = pool._workers
    os.kill(worker.process.pid, signal.SIGKILL)
    worker.process.wait()
    held = worker.send(99, ["held when it died"])
    with pytest.raises(ModelAssetError, match="NLP process"):
        held.result(timeout=30)
    again = asyncio.run(pool.analyze(_transcript()))
    assert again == nlp.analyze(_transcript())
    assert pool._workers[0] is not worker


def test_a_bad_request_is_that_requests_error(pool: NlpPool) -> None:
    answer = pool.submit([1, 2])  # type: ignore[list-item]
    assert "texts must be a list of strings" in answer.result(timeout=30)["error"]
    assert asyncio.run(pool.analyze(_transcript())).names  # the process goes on


def test_episodes_read_names_in_the_pool_as_in_the_thread() -> None:
    transcript = _transcript()
    pooled, threaded = (
        ciagent.enrich(
            transcript, Settings(model=FakeModel(), cache=False, ner="on", nlp_processes=n)
        )
        for n in (1, 0)
    )

    def found(result: ciagent.EpisodeEnrichment) -> list[dict[str, object]]:
        return [e.model_dump(exclude={"produced_by"}) for e in result.entities]

    assert found(pooled) == found(threaded)
    assert {e.name for e in pooled.entities} >= {"Sarah Chen"}
