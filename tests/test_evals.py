"""Eval metrics on hand-checked cases, the dataset readers, and `ciagent eval` on a fake model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ciagent
from ciagent.cli import app
from ciagent.errors import TranscriptError
from ciagent.evals import boundary_prf, entity_prf, pk, read_dataset, rouge, windowdiff
from ciagent.evals.datasets import GoldLabel, GoldPart, GoldPerson
from ciagent.evals.metrics import typed_share
from ciagent.evals.runner import junk_share, score, with_signals
from ciagent.evals.signals import label_prf, part_boundary_prf, people_prf
from ciagent.settings import Settings
from ciagent.testing import FakeModel
from tests.conftest import QMSUM, needs_qmsum
from tests.helpers import reference

ROOT = Path(__file__).resolve().parents[1]


def test_a_perfect_segmentation() -> None:
    gold = [0, 10, 25]
    assert boundary_prf(gold, gold).f1 == 1.0
    assert pk(gold, gold, count=40) == 0.0
    assert windowdiff(gold, gold, count=40) == 0.0


def test_a_shifted_boundary_scores_what_the_definitions_say() -> None:
    # 20 segments, one gold boundary before segment 10, predicted before segment 12.
    # k = half the mean gold chapter length = 20 / 2 chapters / 2 = 5. The 16 windows (i, i + 5)
    # disagree where exactly one segmentation puts a boundary inside: i = 5, 6 (gold only) and
    # i = 10, 11 (predicted only): 4 of 16.
    assert pk([12], [10], count=20) == pytest.approx(4 / 16)
    assert windowdiff([12], [10], count=20) == pytest.approx(4 / 16)
    assert boundary_prf([12], [10], tolerance=0).f1 == 0.0
    assert boundary_prf([12], [10], tolerance=2).f1 == 1.0
    # Two predictions near one gold boundary: one matches, one is a false positive.
    both = boundary_prf([9, 11], [10], tolerance=1)
    assert (both.precision, both.recall) == (0.5, 1.0)


def test_rouge_and_entities() -> None:
    assert rouge("the cat sat", "the cat sat")["rouge1"] == pytest.approx(1.0)
    partial = rouge("the cat sat", "the cat sat on the mat")
    assert partial["rouge1"] == pytest.approx(2 * 1.0 * 0.5 / 1.5, abs=0.05)
    found = entity_prf(
        [("Sarah Chen", "person"), ("MBARI", "place")],
        [("sarah chen", "person"), ("MBARI", "organization")],
    )
    assert (found.precision, found.recall) == (0.5, 0.5)
    untyped = entity_prf([("MBARI", "place")], [("MBARI", "organization")], typed=False)
    assert untyped.f1 == 1.0
    # of the two that name a gold entity one is typed right; the unknown one does not count
    typed = typed_share(
        [("Sarah Chen", "person"), ("MBARI", "place"), ("Nowhere", "place")],
        [("sarah chen", "person"), ("MBARI", "organization")],
    )
    assert typed == 0.5
    assert typed_share([("Nowhere", "place")], [("MBARI", "organization")]) is None


def test_junk_share_counts_fillers_roles_and_labels_among_titles_topics_entities() -> None:
    from ciagent.types import Chapter, Entity, EntityType, EpisodeEnrichment, Topic

    def chapter(title: str) -> Chapter:
        return Chapter(title=title, start=0, end=1, segment_ids=[0])

    def entity(name: str) -> Entity:
        return Entity(name=name, type=EntityType.PERSON, mentions=[], verification="unverified")

    result = EpisodeEnrichment.model_construct(
        chapters=[chapter("Yeah, like, mean"), chapter("White shark tagging")],
        topics=[
            Topic(name="the Project Manager", score=0.2),
            Topic(name="remote control design", score=0.1),
        ],
        entities=[entity("Sarah Chen"), entity("PhD B")],
    )
    assert junk_share(result, ["PhD B"]) == pytest.approx(3 / 6)
    assert junk_share(EpisodeEnrichment.model_construct(chapters=[], topics=[], entities=[])) == 0.0


@needs_qmsum
def test_qmsum_reader_takes_gold_chapters_and_summary() -> None:
    [episode] = read_dataset(QMSUM / "TS3010a.json")
    assert episode.chapters == [0, 103, 132]
    assert episode.summary
    assert episode.entities is None
    # Some QMSum files ask "Summarize the meeting" instead.
    [other] = read_dataset(QMSUM / "Bro011.json")
    assert other.summary is not None
    assert len(other.summary.split()) > 50


def test_golden_reader_and_its_errors(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("S: Hello from Oslo.\n")
    good = tmp_path / "gold.jsonl"
    good.write_text(
        json.dumps(
            {
                "id": "a",
                "transcript": "a.txt",
                "chapters": [0],
                "entities": [{"name": "Oslo", "type": "place"}],
            }
        )
        + "\n"
    )
    [episode] = read_dataset(good)
    assert episode.transcript == (tmp_path / "a.txt").resolve()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a"}\n')
    with pytest.raises(TranscriptError, match=r"bad\.jsonl:1"):
        read_dataset(bad)


@needs_qmsum
def test_eval_command_prints_tables_and_writes_scores(tmp_path: Path) -> None:
    fake = FakeModel()
    runner = CliRunner()
    other = tmp_path / "long-chapters.toml"
    other.write_text("[ciagent]\nmin_chapter_share = 0.5\n")
    result = runner.invoke(
        app,
        [
            "eval",
            str(QMSUM / "TS3010a.json"),
            "--model",
            reference(fake),
            "--config",
            str(other),
            "--out",
            str(tmp_path / "scores.json"),
        ],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "means, side by side" in result.stdout
    assert "TS3010a" in result.stdout
    [row] = json.loads((tmp_path / "scores.json").read_text())
    assert row["config"] == "long-chapters"
    assert 0 <= row["pk"] <= 1
    assert row["rouge1"] > 0
    assert 1 <= row["chapters"] <= 2  # no chapter under half the episode
    assert 0 <= row["not_metadata"] <= 1


def test_the_signals_scores_count_one_to_one() -> None:
    gold_parts = [
        GoldPart(kind="sponsor", start=15.0, end=40.0),
        GoldPart(kind="outro", start=200.0, end=230.0),
    ]
    found = [
        {"kind": "sponsor", "start": 17.0, "end": 52.0},  # start within 5 s, end 12 s off
        {"kind": "intro", "start": 199.0, "end": 230.0},  # the right times, the wrong kind
    ]
    assert part_boundary_prf(found, gold_parts).f1 == pytest.approx(2 * 0.25 * 0.25 / 0.5)

    def label(name: str, *segments: int) -> dict[str, object]:
        return {"label": name, "passages": [{"segment_ids": list(segments)}]}

    gold_labels = [
        GoldLabel(label="drugs", segments=[4, 5]),
        GoldLabel(label="drugs", segments=[9]),
    ]
    predicted = [label("drugs", 5), label("drugs", 5, 6), label("violence", 9)]
    scores = label_prf(predicted, gold_labels)  # the second overlaps a gold label already taken
    assert (scores.precision, scores.recall) == (pytest.approx(1 / 3), 0.5)

    people = [
        GoldPerson(name="Tomás Rivera", role="guest"),
        GoldPerson(name="Priya Raman", role="host"),
    ]
    said = [{"name": "TOMÁS RIVERA", "role": "guest"}, {"name": "Priya Raman", "role": "guest"}]
    assert people_prf(said, people).f1 == 0.5


@needs_qmsum
def test_an_episode_with_gold_for_a_signal_runs_its_extractor(tmp_path: Path) -> None:
    (episode,) = [
        e for e in read_dataset(ROOT / "evals" / "golden.jsonl") if e.id == "field-kitchen-ep3"
    ]
    assert episode.signals() == ("segments", "safety", "people")
    settings = with_signals(Settings(cache=False), episode)
    assert [e.name for e in settings.extractors] == ["segments", "safety", "people"]
    plain = read_dataset(QMSUM / "TS3010a.json")[0]
    assert with_signals(Settings(cache=False), plain).extractors == ()
    result = ciagent.enrich(episode.transcript, settings, model=FakeModel())
    row = score("fake", episode, result, 32)
    assert row.segment_f1 == 1.0  # every part found by the rules, at its lines
    assert (row.safety_precision, row.safety_recall) == (1.0, 1.0)  # none to find, none found
    assert row.people_f1 == 1.0
