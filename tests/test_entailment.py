"""The lexical checks of a claim: what the words settle with no model call."""

from __future__ import annotations

from ciagent.entailment import (
    check,
    numbers,
    polarity,
    role_corrected,
    role_elsewhere,
    said_stems,
)

LINES = [
    "We agreed to increase the states from six to eight.",
    "The remote control will have a rubber case and a yellow button.",
]
SAID = said_stems([*LINES, "Thanks everyone, see you next week."])


def test_numbers_and_polarity() -> None:
    assert numbers("from six to 8, about 1,200 people") == {6.0, 8.0, 1200.0}
    assert polarity("They agreed.")
    assert not polarity("They did not agree.")
    assert not polarity("They didn't agree.")
    assert polarity("It is not that they never agreed.")


def test_a_claim_of_something_never_said_is_not_found() -> None:
    found = check("The committee funded universities through QR grants.", LINES, SAID)
    assert found is not None
    assert found.verdict == "not_found"
    # how a summary tells of an episode does not count against it
    assert check("The team discussed a rubber case for the remote control.", LINES, SAID) is None


def test_a_changed_number_or_polarity_is_contradicted() -> None:
    changed = check("They agreed to increase the states from six to nine.", LINES, SAID)
    assert changed is not None
    assert changed.verdict == "contradicted"
    negated = check("The remote control will not have a rubber case.", LINES, SAID)
    assert negated is not None
    assert (negated.verdict, negated.line) == ("contradicted", 1)
    assert check("They agreed to increase the states from six to eight.", LINES, SAID) is None


def test_a_claim_that_credits_the_wrong_voice_is_contradicted() -> None:
    lines = [
        "I think training for each case may improve performance a lot.",
        "Okay, and the variance differs between cases.",
        "Hon. Marie Lavoie asked about the agriculture fund.",
    ]
    speakers = ["PhD B", "Professor", "Hon. Bardish Chagger (Waterloo, Lib.)"]
    voices = {"PhD B", "Professor", "Hon. Marie Lavoie (Compton, Lib.)", *speakers}
    said = said_stems([*lines, *voices])

    def verdict(claim: str) -> str | None:
        found = check(claim, lines, said, speakers, voices)
        return None if found is None else found.verdict

    # PhD B said it; the Professor did not.
    assert verdict("PhD B thought training for each case may improve performance.") is None
    assert (
        verdict("Professor thought training for each case may improve performance.")
        == "contradicted"
    )
    # A line that names the one credited keeps the claim, whoever spoke it.
    assert verdict("Lavoie asked about the agriculture fund.") is None
    # Two voices named, or none: not this check's to rule.
    assert verdict("PhD B and Professor discussed training for each case.") is None
    assert verdict("Training for each case may improve performance.") is None
    # Without the speakers of the lines, nothing is credited.
    assert (
        check("Professor thought training for each case may improve performance.", lines, said)
        is None
    )


INTRODUCTION = [
    "My guest today is Dr. Sarah Chen, a marine ecologist at the Monterey Bay Aquarium "
    "Research Institute, which most people call MBARI.",
    "Thanks, Maya. It's good to be here.",
]


def test_a_claim_giving_one_person_anothers_role_is_contradicted() -> None:
    host = "Maya Okafor is a marine ecologist at MBARI who recorded from her studio in Oakland."
    found = role_elsewhere(host, INTRODUCTION)
    assert found is not None
    assert (found.verdict, found.line) == ("contradicted", 0)
    said = said_stems([*INTRODUCTION, "Maya Okafor recorded from her studio in Oakland."])
    assert check(host, INTRODUCTION, said) == found
    # The one the evidence names, by full name; a role the evidence gives no one; no full name.
    appositive = "Maya Okafor, a marine ecologist at MBARI, recorded from her studio in Oakland."
    assert role_elsewhere(appositive, INTRODUCTION) == found
    assert role_elsewhere("Sarah Chen is a marine ecologist at MBARI.", INTRODUCTION) is None
    assert role_elsewhere("Maya Okafor is the host of the show.", INTRODUCTION) is None
    assert role_elsewhere("She is a marine ecologist.", INTRODUCTION) is None
    assert role_elsewhere("Chen is a marine ecologist.", INTRODUCTION) is None


def test_a_role_given_to_the_wrong_person_is_given_back() -> None:
    host = "Maya Okafor is a marine ecologist at MBARI who tags sharks."
    assert role_corrected(host, INTRODUCTION) == (
        "Sarah Chen is a marine ecologist at MBARI who tags sharks."
    )
    assert role_corrected("Sarah Chen is a marine ecologist at MBARI.", INTRODUCTION) is None
    assert role_corrected("Maya Okafor is the host of the show.", INTRODUCTION) is None
