"""The eval episodes enriched again from recorded answers of the default embedded model: the real
pipeline (NER, merge, titles, verification) over real model output, with no model in the run.

The recording (`tests/data/recorded.jsonl.gz`) is made by `tools/record_outputs.py` from one
`ciagent eval` of these episodes; a request that is not in it means a prompt, schema or setting
changed since, and the test asks for the recording to be made again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tools.record_outputs import RECORDING, load_recording

import ciagent
from ciagent.errors import ModelCallError
from ciagent.evals.datasets import EvalEpisode, read_dataset
from ciagent.evals.runner import junk_share, with_signals
from ciagent.llm.backend import ChatRequest, ChatResponse
from ciagent.llm.models import ModelSpec
from ciagent.resolve import backend
from ciagent.settings import Settings
from ciagent.steps.chapter_summaries import reads_as_prose
from ciagent.textnorm import split_sentences
from ciagent.transcripts import load_transcript
from ciagent.types import EpisodeEnrichment
from ciagent.vocabulary import not_metadata
from tests.conftest import QMSUM, needs_qmsum

ROOT = Path(__file__).resolve().parents[1]
pytestmark = needs_qmsum  # the recording is of the golden episodes and the QMSum meetings


def _episodes() -> list[EvalEpisode]:
    paths = [ROOT / "evals" / "golden.jsonl", *sorted(QMSUM.glob("*.json"))]
    return [episode for path in paths for episode in read_dataset(path)]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    cache_dir = tmp_path_factory.mktemp("replay")
    assert load_recording(RECORDING, cache_dir / "responses") > 0
    recorded = NotRecorded(backend(Settings(cache_dir=cache_dir)).spec)
    settings = Settings(cache_dir=cache_dir, model=recorded)
    outputs: dict[str, tuple[EpisodeEnrichment, list[str]]] = {}
    for episode in _episodes():
        transcript = load_transcript(Path(episode.transcript))
        speakers = sorted({s.speaker for s in transcript.segments if s.speaker})
        result = ciagent.enrich(transcript, with_signals(settings, episode))
        outputs[episode.id] = (result, speakers)
    return {"outputs": outputs, "misses": recorded.misses}


class NotRecorded:
    """The default embedded model as the recording knows it (its spec, so the same cache keys):
    a request that reaches it was not recorded."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.misses: list[str] = []

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self.misses.append(request.tag.label)
        raise ModelCallError(self.spec.model_id, "not in the recording")

    async def probe(self) -> bool:
        return False


def test_the_recording_answers_every_request(replayed: dict[str, Any]) -> None:
    assert replayed["misses"] == [], (
        "requests not in the recording (a prompt, schema or setting changed): rerun "
        "`ciagent eval` into an empty CIAGENT_CACHE_DIR and `python -m tools.record_outputs`"
    )


def test_no_title_topic_or_entity_is_filler_a_role_or_a_voice_label(
    replayed: dict[str, Any],
) -> None:
    outputs: dict[str, tuple[EpisodeEnrichment, list[str]]] = replayed["outputs"]
    assert len(outputs) >= 7
    bad: list[tuple[str, str, str]] = []
    for episode, (result, speakers) in outputs.items():
        assert result.chapters, episode
        assert result.topics, episode
        assert result.entities, episode
        for kind, phrases in (
            ("title", [c.title for c in result.chapters]),
            ("topic", [t.name for t in result.topics]),
            ("entity", [e.name for e in result.entities]),
        ):
            bad += [(episode, kind, p) for p in phrases if not_metadata(p, speakers)]
        assert junk_share(result, speakers) == 0.0 or bad, episode
    assert bad == []


def test_chapter_summaries_are_there_and_read_as_prose(replayed: dict[str, Any]) -> None:
    outputs: dict[str, tuple[EpisodeEnrichment, list[str]]] = replayed["outputs"]
    chapters = [(e, c) for e, (result, _) in outputs.items() for c in result.chapters]
    empty = [(e, c.title) for e, c in chapters if not c.summary]
    assert all(c.summary_from is None for _, c in chapters if not c.summary)
    # Before, 55 of 62 chapters had no summary; the three left are AMI chapters whose lines
    # are all scraps ("My favourite animal is").
    assert len(empty) <= len(chapters) // 10, empty
    for episode, chapter in chapters:
        speakers = outputs[episode][1]
        for sentence in split_sentences(chapter.summary):
            assert reads_as_prose(sentence, speakers), (episode, chapter.title, sentence)


def test_the_signals_on_the_recorded_answers(replayed: dict[str, Any]) -> None:
    """The built-in extractors over the embedded model's recorded answers: both sponsor reads
    of field-kitchen-ep3 within 10 s of the annotation, and each signal scored against the
    golden set's gold (docs/evals.md has the figures)."""
    outputs: dict[str, tuple[EpisodeEnrichment, list[str]]] = replayed["outputs"]
    gold = {e.id: e for e in read_dataset(ROOT / "evals" / "golden.jsonl")}
    kitchen = outputs["field-kitchen-ep3"][0].extras["segments"]
    for read in [p for p in gold["field-kitchen-ep3"].segments or [] if p.kind == "sponsor"]:
        assert any(
            part["sponsor"] == read.sponsor
            and abs(part["start"] - read.start) <= 10
            and abs(part["end"] - read.end) <= 10
            for part in kitchen
        ), (read, kitchen)
    for episode_id in gold:
        result = outputs[episode_id][0]
        assert "safety" in result.extras
        assert "people" in result.extras
        assert result.extras["safety"]["rating"] in ("clean", "mild", "mature", "explicit")
        named = {e.name for e in result.entities}
        assert all(p["entity"] in named | {None} for p in result.extras["people"]), episode_id
    # the summary leaves the sponsor reads out (`skip_non_content`)
    assert "larderandco" not in outputs["field-kitchen-ep3"][0].summary.casefold()
    assert "dried beans" not in outputs["field-kitchen-ep3"][0].summary
