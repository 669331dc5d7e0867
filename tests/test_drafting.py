"""Prompt-lookup drafts, the online step-cost fit, draft lengths and token choice (no model
loaded)."""

from __future__ import annotations

import numpy as np
import pytest

from ciagent.llm.drafting import Acceptance, PromptLookup, StepCost
from ciagent.llm.sampling import Candidates, TokenChooser


def test_a_draft_continues_the_latest_earlier_occurrence_of_the_last_tokens() -> None:
    lookup = PromptLookup([1, 2, 3, 4, 5, 9, 9, 1, 2, 3, 7, 8, 0, 1, 2, 3])
    # "1 2 3" last occurred before this at 7..9, followed by 7 8 0 ...
    assert lookup.draft(3) == [7, 8, 0]
    lookup.extend([7])
    assert lookup.draft(2) == [8, 0]


def test_the_longest_match_wins_over_a_more_recent_shorter_one() -> None:
    #            0  1  2  3  4  5  6  7  8
    lookup = PromptLookup([5, 6, 7, 1, 9, 6, 7, 2, 5, 6, 7])
    # 4-gram "... 5 6 7": "5 6 7" at 0 (then 1); the trigram beats "6 7" at 5 (then 2)
    assert lookup.draft(1) == [1]


def test_no_match_and_no_room_give_no_draft() -> None:
    assert PromptLookup([1, 2, 3]).draft(5) == []
    assert PromptLookup([1, 2, 1, 2]).draft(0) == []
    # A single matching token is a weak guess: its draft is short.
    assert len(PromptLookup([4, *range(10, 30), 8, 4]).draft(20)) == 3


def test_step_cost_fit_recovers_a_line_from_timed_steps() -> None:
    cost = StepCost()
    for tokens in (1, 4, 9, 30, 1, 512, 5, 2):
        cost.add(tokens, 0.030 + 0.004 * tokens)
    for _ in range(200):
        cost.add(3, 0.030 + 0.004 * 3)
        cost.add(40, 0.030 + 0.004 * 40)
    fixed, per_token = cost.line()
    assert fixed == pytest.approx(0.030, rel=0.05)
    assert per_token == pytest.approx(0.004, rel=0.05)


def test_drafts_get_shorter_as_they_are_wrong_more_often_or_cost_more() -> None:
    good, bad = Acceptance(), Acceptance()
    for _ in range(20):
        good.add(drafted=8, matched=8)
        bad.add(drafted=4, matched=0)
    assert good.length(0.15) == 8
    assert bad.length(0.15) == 0
    fair = Acceptance()
    assert fair.length(0.15) > fair.length(0.45) > 0  # a busier step asks more of each token
    assert fair.length(1.0) == 0


def test_token_choice_without_a_grammar_greedy_and_sampled() -> None:
    candidates = Candidates(8)
    logits = np.array([0.0, 1.0, 9.0, 8.9, 0.0, 0.0, 0.0, 0.0], dtype=np.float32)
    assert TokenChooser(None).choose(logits, candidates) == 2  # greedy: the best token
    # Within a small top_p only the best token is left to draw.
    narrow = TokenChooser(None, temperature=1.0, top_p=0.3, seed=1)
    assert {narrow.choose(logits, candidates) for _ in range(20)} == {2}
    # At temperature 1 the two near-equal tokens are both drawn, and a seed repeats the draws.
    draws = [TokenChooser(None, temperature=1.0, seed=7) for _ in range(2)]
    first = [draws[0].choose(logits, candidates) for _ in range(50)]
    assert first == [draws[1].choose(logits, candidates) for _ in range(50)]
    assert set(first) == {2, 3}
