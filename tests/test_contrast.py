"""The contrast claim judge: a claim weighed against its negation by the likelihood of a
one-letter answer, in both orders (fake models; the real model in tests/test_engine.py); and no
judge at all for a small model's claims the lexical checks leave."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from ciagent import Settings
from ciagent.api import reading
from ciagent.cache import ResponseCache
from ciagent.llm.backend import CallTag
from ciagent.llm.call import ModelClient
from ciagent.llm.plain import FLOOR, Ranked
from ciagent.llm.reading import Reading
from ciagent.llm.usage import UsageMeter
from ciagent.negation import negate
from ciagent.prompts import load_prompt
from ciagent.state import RunContext
from ciagent.steps.claims import Evidence, judge
from ciagent.testing import FakeModel, FakeRequest
from ciagent.tokens import token_counter
from tests.helpers import transcript_of

JUDGE0 = CallTag("judge", part="0")
EPISODE = transcript_of(
    """Maya: So where did the team land on the price of the remote?
Sarah: We agreed on twenty-five euros for the remote, after a long back and forth.
Maya: And the case?
Sarah: The case will be rubber, because children drop things."""
)
CLAIM = "The team agreed on a price for the remote."


def _context(fake: FakeModel, tmp_path: Path | None = None) -> RunContext:
    settings = Settings(model=fake, cache_dir=tmp_path or Path("."), max_retries=0)
    cache = ResponseCache(tmp_path / "responses") if tmp_path else None
    return RunContext(
        settings=settings,
        client=ModelClient(settings, fake, UsageMeter(), cache),
        count_tokens=token_counter(),
        reading=Reading(1500, 1, judge="contrast"),
    )


def _options(request: FakeRequest) -> dict[str, str]:
    return dict(re.findall(r"^([AB]): (.*)$", request.prompt, re.MULTILINE))


def prefers(negated: bool, by: float = 0.3):  # type: ignore[no-untyped-def]
    """A model leaning to "A" (as the real one does) and, by `by`, to the negated statement
    (`negated`) or to the plain one."""

    def respond(request: FakeRequest) -> dict[str, float]:
        assert request.ranked
        says_not = {k: " not " in f" {v} " for k, v in _options(request).items()}
        wanted = "A" if says_not["A"] == negated else "B"
        lean = {"A": -0.5, "B": -1.0}
        lean[wanted] += by
        return lean

    return respond


def _evidence() -> Evidence:
    return Evidence(EPISODE, [0, 1, 2, 3])


@pytest.mark.parametrize(("negated", "verdict"), [(True, "contradicted"), (False, "supported")])
def test_a_claim_is_weighed_against_its_negation_in_both_orders(
    negated: bool, verdict: str
) -> None:
    fake = FakeModel(respond=prefers(negated))
    ctx = _context(fake)
    claim = asyncio.run(judge(ctx, JUDGE0, CLAIM, _evidence()))
    assert claim.verdict == verdict
    assert claim.judged_by == ctx.client.spec.name
    assert claim.evidence_segment_ids == [0, 1, 2, 3]
    asked = sorted((_options(r) for r in fake.requests), key=lambda o: o["A"] != CLAIM)
    first, second = asked  # sent together: in either order
    negation = "The team did not agree on a price for the remote."
    assert first == {"A": CLAIM, "B": negation}
    assert second == {"A": negation, "B": CLAIM}
    # The two calls share their prompt up to the statements (the evidence, then the question).
    shared = fake.requests[0].prompt.split("\nA: ")[0]
    assert fake.requests[1].prompt.startswith(shared)
    assert "[2] Sarah: We agreed on twenty-five euros" in shared
    assert [r.step for r in ctx.client.meter.records] == ["judge[0]", "judge[0]"]


def test_a_leaning_to_the_first_option_alone_decides_nothing() -> None:
    fake = FakeModel()  # "A" likelier by the same amount wherever the claim stands
    claim = asyncio.run(judge(_context(fake), JUDGE0, CLAIM, _evidence()))
    assert claim.verdict == "supported"  # a tie goes to the claim


def test_a_claim_with_nothing_to_negate_is_left_unchecked_without_a_call() -> None:
    fake = FakeModel(respond=prefers(True))
    text = "A price for the remote, and a rubber case for children."
    claim = asyncio.run(judge(_context(fake), JUDGE0, text, _evidence()))
    assert claim.verdict == "unchecked"
    assert claim.judged_by is None
    assert fake.requests == []


def test_a_failed_choice_call_leaves_the_claim_unchecked() -> None:
    def down(request: FakeRequest) -> dict[str, float]:
        raise RuntimeError("judge server down")

    claim = asyncio.run(judge(_context(FakeModel(respond=down)), JUDGE0, CLAIM, _evidence()))
    assert claim.verdict == "unchecked"
    assert claim.evidence_segment_ids == [0, 1, 2, 3]


def test_a_choice_call_reads_the_likeliest_first_tokens_and_is_cached(tmp_path: Path) -> None:
    fake = FakeModel(respond=lambda request: {"A": -0.2, "B": -1.7, "The": -3.0})
    ctx = _context(fake, tmp_path)
    prompt = load_prompt("judge_contrast")
    values = {"evidence": "[1] Sarah: We agreed.", "first": "They agreed.", "second": "No."}

    async def twice() -> tuple[dict[str, float], dict[str, float]]:
        one = await ctx.client.choice(JUDGE0, prompt, ("A", "B", "C"), **values)
        two = await ctx.client.choice(JUDGE0, prompt, ("A", "B", "C"), **values)
        return one.value, two.value

    first, again = asyncio.run(twice())
    assert first == again == {"A": -0.2, "B": -1.7, "C": FLOOR}
    assert len(fake.requests) == 1  # the second from the cache
    [record] = ctx.client.meter.records
    assert (record.outcome, record.completion_tokens) == ("ok", 1)
    assert "never instructions" in fake.requests[0].messages[0]["content"]


def _response(tops: list[tuple[str, float]] | None) -> SimpleNamespace:
    content = None
    if tops:
        top = [SimpleNamespace(token=t, logprob=p) for t, p in tops]
        content = [SimpleNamespace(token=tops[0][0], logprob=tops[0][1], top_logprobs=top)]
    logprobs = SimpleNamespace(content=content)
    return SimpleNamespace(choices=[SimpleNamespace(logprobs=logprobs)])


def test_tokens_that_differ_by_a_space_are_one_option_and_no_logprobs_is_no_answer() -> None:
    ranked = Ranked.read(_response([("A", -1.0), (" A", -1.0), ("B", -2.0)]))
    assert ranked is not None
    assert ranked.of("A") == pytest.approx(-1.0 + 0.693147, abs=1e-5)
    assert ranked.of("B") == -2.0
    assert ranked.of("C") == FLOOR
    assert Ranked.read(_response(None)) is None
    assert Ranked.read(_response([])) is None
    assert Ranked.read(_response([(" ", -0.1)])) is None  # only a space


@pytest.mark.parametrize(
    ("claim", "negated"),
    [
        ("The team agreed on the price.", "The team did not agree on the price."),
        ("The team did not agree on the price.", "The team agreed on the price."),
        ("She doesn't want a rubber case.", "She wants a rubber case."),
        ("The group did not really agree.", "The group really agreed."),
        ("He did not make it.", "He made it."),
        ("It does not have buttons.", "It has buttons."),
        ("The case will be rubber.", "The case will not be rubber."),
        ("The group didn't.", None),
        ("A price for the remote.", None),
    ],
)
def test_the_judge_negates_forms_the_transcript_never_says(claim: str, negated: str | None) -> None:
    assert negate(claim, frozenset(), guess=True) == negated


def test_the_claim_set_negates_only_forms_its_meetings_say() -> None:
    assert negate("The team agreed on the price.", frozenset()) is None
    assert negate("The team did not agree on the price.", {"agreed"}) is None
    assert negate("The team agreed.", {"agree"}) == "The team did not agree."


def test_a_small_models_claims_the_checks_leave_stay_unchecked_without_a_call() -> None:
    """The default for a small model: its verdicts do not depend on the evidence, so none is
    asked for; a claim the lexical checks settle still gets their verdict."""
    fake = FakeModel(respond=prefers(True))
    ctx = _context(fake)
    ctx.reading = Reading(1500, 1, judge="lexical")
    left = asyncio.run(judge(ctx, JUDGE0, CLAIM, _evidence()))
    assert (left.verdict, left.judged_by) == ("unchecked", None)
    assert left.evidence_segment_ids == [0, 1, 2, 3]
    opposite = "They did not agree on twenty-five euros for the remote after a long back and forth."
    settled = asyncio.run(judge(ctx, CallTag("judge", part="1"), opposite, _evidence()))
    assert (settled.verdict, settled.judged_by) == ("contradicted", "transcript (lexical checks)")
    assert fake.requests == []
    assert reading(Settings()).judge == "lexical"  # the embedded default
