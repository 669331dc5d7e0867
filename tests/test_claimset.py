"""The labelled claim set built from the QMSum meetings, balanced accuracy, and the judge
measurement's loop on a scripted fake model (no real model runs here)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import pytest
from tools.judge_eval import context_for, evidence_for, judge_all

from ciagent.entailment import check
from ciagent.evals.claimset import (
    LABELS,
    LabelledClaim,
    _swap_name,
    _swap_number,
    balanced_accuracy,
    build_claim_set,
    confusion,
    per_class_recall,
    spread,
)
from ciagent.evals.datasets import read_dataset
from ciagent.negation import negate
from ciagent.settings import Settings
from ciagent.testing import FakeModel, FakeRequest
from ciagent.textnorm import normalize_key, split_sentences
from tests.conftest import QMSUM, needs_qmsum

PATHS = sorted(QMSUM.glob("*.json"))
pytestmark = needs_qmsum


@pytest.fixture(scope="module")
def claims() -> list[LabelledClaim]:
    return build_claim_set(PATHS)


def test_the_set_is_deterministic(claims: list[LabelledClaim]) -> None:
    assert build_claim_set(PATHS) == claims
    assert len({c.meeting for c in claims}) == len(PATHS) == 5


def test_classes_are_balanced_overall_and_per_meeting(claims: list[LabelledClaim]) -> None:
    for group in [claims, *([c for c in claims if c.meeting == m.stem] for m in PATHS)]:
        counts = Counter(c.label for c in group)
        assert set(counts) == set(LABELS)
        assert max(counts.values()) <= 2 * min(counts.values())
    larger = build_claim_set(PATHS, specific=True, per_class=15)
    counts = Counter(c.label for c in larger)
    assert max(counts.values()) <= 2 * min(counts.values())
    assert len(larger) > len(claims)
    assert all(n <= 15 for n in Counter((c.meeting, c.label) for c in larger).values())


def test_supported_claims_are_gold_sentences_of_their_meeting(claims: list[LabelledClaim]) -> None:
    gold = {p.stem: split_sentences(read_dataset(p)[0].summary or "") for p in PATHS}
    supported = [c for c in claims if c.label == "supported"]
    assert all(c.kind == "gold" and c.text == c.source for c in supported)
    assert all(c.text in gold[c.meeting] and len(c.text.split()) >= 6 for c in supported)


def test_every_contradicted_claim_differs_from_its_source(claims: list[LabelledClaim]) -> None:
    contradicted = [c for c in claims if c.label == "contradicted"]
    assert contradicted
    for claim in contradicted:
        assert claim.kind in ("swapped_name", "swapped_number", "negated")
        assert normalize_key(claim.text) != normalize_key(claim.source)
        assert claim.source_meeting == claim.meeting


def test_not_found_claims_come_from_another_meeting(claims: list[LabelledClaim]) -> None:
    own = {(c.meeting, c.text) for c in claims if c.label == "supported"}
    not_found = [c for c in claims if c.label == "not_found"]
    assert not_found
    for claim in not_found:
        assert claim.kind == "other_meeting"
        assert claim.source_meeting != claim.meeting
        assert (claim.meeting, claim.text) not in own


def test_perturbations_on_hand_made_sentences() -> None:
    words = {"agree", "discuss"}
    assert negate("The team agreed on the price.", words) == "The team did not agree on the price."
    assert negate("The remote is cheap.", words) == "The remote is not cheap."
    assert negate("They will meet again.", words) == "They will not meet again."
    assert negate("Users can change it.", words) == "Users cannot change it."
    assert negate("It could not be heavy.", words) == "It could be heavy."
    assert negate("They were also concerned.", words) == "They were also not concerned."
    assert negate("The group discussed colours.", words) == "The group did not discuss colours."
    assert negate("Nothing here to change at all.", words) is None
    rng = random.Random(0)
    assert _swap_number("Nothing numeric in this sentence.", rng) is None
    changed = _swap_number("They sold it for twenty five Euro.", rng)
    assert changed is not None
    assert changed != "They sold it for twenty five Euro."
    assert _swap_number("It costs 590,000 dollars.", rng) in {
        f"It costs {n},000 dollars." for n in (591, 592, 593)
    }
    roles = [{"Project Manager", "Marketing", "Industrial Designer"}]
    swapped = _swap_name("Project manager and Marketing set the price.", roles, rng)
    assert swapped in {
        "Industrial Designer and Marketing set the price.",
        "Project manager and Industrial Designer set the price.",
    }
    assert _swap_name("The team set the price.", roles, rng) is None


def test_balanced_accuracy_on_hand_made_cases() -> None:
    gold = ["supported", "contradicted", "not_found"] * 4
    assert balanced_accuracy((g, "supported") for g in gold) == pytest.approx(1 / 3)
    assert balanced_accuracy((g, g) for g in gold) == 1.0
    # An unchecked claim is a miss; classes absent from gold do not count.
    pairs = [("supported", "supported"), ("supported", "unchecked"), ("not_found", "not_found")]
    assert per_class_recall(pairs) == {"supported": 0.5, "not_found": 1.0}
    assert balanced_accuracy(pairs) == pytest.approx(0.75)
    assert confusion(pairs) == {
        "supported": {"supported": 1, "unchecked": 1},
        "not_found": {"not_found": 1},
    }
    assert balanced_accuracy([]) == 0.0


def test_spread_takes_each_class_in_turn(claims: list[LabelledClaim]) -> None:
    six = spread(claims, 6)
    assert [c.label for c in six] == [*LABELS, *LABELS]
    assert len({c.meeting for c in six}) >= 2
    everything = spread(claims, 10_000)
    assert len(everything) == len(claims)
    assert set(everything) == set(claims)


def test_the_judge_loop_on_a_scripted_fake_model(claims: list[LabelledClaim]) -> None:
    chosen = spread(claims, 6)
    labels = {c.text: c.label for c in chosen}
    failing = chosen[0].text  # its call fails: unchecked, counted as a miss

    def respond(request: FakeRequest) -> dict[str, Any] | str:
        claim = request.prompt.rpartition("Claim:")[2].strip()
        if claim == failing:
            return "not json at all"
        return {"lines": [1], "verdict": labels[claim]}

    fake = FakeModel(respond=respond)
    settings = Settings(model=fake, cache=False, max_reasks=0, max_retries=0, lexical_checks=False)
    evidence = evidence_for(chosen, PATHS, settings.claim_evidence)
    assert all(e.segment_ids for e in evidence)
    row = asyncio.run(judge_all("model", chosen, evidence, context_for(settings)))
    assert row.n == 6
    assert row.calls == len(fake.requests) == row.unsettled == 6
    assert row.predicted[0] == "unchecked"
    assert row.predicted[1:] == [c.label for c in chosen[1:]]
    assert row.recall == {chosen[0].label: 0.5, **{c.label: 1.0 for c in chosen[1:3]}}
    assert row.balanced_accuracy == pytest.approx(2.5 / 3)

    rules = asyncio.run(judge_all("rules", chosen, evidence, None))
    assert rules.calls == 0
    # what the lexical checks settle, and supported for what they leave to a judge
    expected = []
    for claim, found in zip(chosen, evidence, strict=True):
        settled = check(claim.text, found.texts, found.said)
        expected.append("supported" if settled is None else settled.verdict)
    assert rules.predicted == expected
    assert rules.unsettled == expected.count("supported")
