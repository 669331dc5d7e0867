"""Topics: ranked, with evidence segments, optionally mapped onto a taxonomy."""

from __future__ import annotations

from pathlib import Path

import pytest

import ciagent
from ciagent import ConfigError, Settings
from ciagent.taxonomy import load_taxonomy
from ciagent.testing import FakeModel


@pytest.mark.parametrize(
    ("topic", "category"),
    [
        ("white sharks", "Science/Nature"),
        ("remote control design", "Technology/Hardware and Gadgets"),
        ("speech recognition features", "Technology/Speech and Audio"),
        ("covid vaccine rollout", "Health & Fitness/Medicine"),
        ("the meeting agenda", "Business/Management"),
        ("zzz qqq", None),
    ],
)
def test_the_shipped_podcast_taxonomy(topic: str, category: str | None) -> None:
    assert load_taxonomy("podcast").categorize(topic) == category


def test_topics_carry_evidence_and_a_category(examples_dir: Path) -> None:
    fake = FakeModel()
    path = examples_dir / "long-tide-ep41.vtt"
    result = ciagent.enrich(path, Settings(model=fake, taxonomy="podcast"))
    transcript = ciagent.load_transcript(path)
    assert result.topics
    scores = [t.score for t in result.topics]
    assert scores == sorted(scores, reverse=True)
    for topic in result.topics:
        assert topic.segment_ids
        assert len(topic.segment_ids) <= 5
        words = topic.name.lower().split()
        assert any(
            any(w in transcript.segments[i].text.lower() for w in words) for i in topic.segment_ids
        )
    assert any(t.category for t in result.topics)


def test_a_taxonomy_file_that_is_not_one_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "tax.toml"
    bad.write_text('name = "x"\n')
    with pytest.raises(ConfigError, match="taxonomy"):
        load_taxonomy(str(bad))
    with pytest.raises(ConfigError, match="cannot read"):
        load_taxonomy(str(tmp_path / "missing.toml"))
