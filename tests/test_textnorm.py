from __future__ import annotations

import unicodedata

import pytest

from ciagent.textnorm import (
    clean,
    cut_loop,
    find_span,
    fuzzy_span,
    grounded_sentences,
    normalize_key,
    shippable,
    split_sentences,
    whole_sentences,
)


@pytest.mark.parametrize(
    ("needle", "haystack", "expected"),
    [
        ("Sarah Chen", "thanks, dr. sarah chen, for coming", "sarah chen"),
        ("NOAA", "with N.O.A.A. and NOAA too", "NOAA"),
        ("remote control", "a new remote {disfmarker} control .", "remote {disfmarker} control"),
        ("Monterey Bay", "Monterey\u00a0Bay Aquarium", "Monterey\u00a0Bay"),
        ("Zürich", "Wir fahren nach ZÜRICH morgen", "ZÜRICH"),
        ("東京", "我们去了 東京 和 大阪", "東京"),
    ],
)
def test_find_span_returns_exact_original_text(needle: str, haystack: str, expected: str) -> None:
    span = find_span(needle, haystack)
    assert span is not None
    assert haystack[span[0] : span[1]] == expected


@pytest.mark.parametrize(
    ("needle", "haystack"),
    [("Ann", "Annual report"), ("Chen", "Cheng Li"), ("", "anything"), ("Nature", "natural")],
)
def test_find_span_respects_word_boundaries(needle: str, haystack: str) -> None:
    assert find_span(needle, haystack) is None


def test_normalize_key_and_clean() -> None:
    assert normalize_key("  The Devil's  Teeth! ") == "the devil s teeth"
    assert clean("Um {vocalsound} so , yes .") == "Um so, yes."


def test_grounded_sentences_drop_echoes_loops_and_cut_offs() -> None:
    words = set(
        normalize_key("Maya Okafor talked with Sarah Chen from MBARI about sharks.").split()
    )
    text = (
        "Maya Okafor recalls meeting Tom at the Louvre. Sarah Chen works at MBARI. "
        "They discuss sharks, sharks and more, sharks and more, sharks and more. "
        "I think Sharks are fine. And then the"
    )
    assert grounded_sentences(text, words) == "Sarah Chen works at MBARI. I think Sharks are fine."


def test_a_decoding_loop_is_cut_where_it_comes_round_again() -> None:
    looping = "They grow apples. The orchard is old and" + " the orchard is old and" * 4
    assert cut_loop(looping) == "They grow apples. The orchard is old and"
    # One repeat is language, not a loop.
    twice = "At the end of the day we won. At the end of the day we lost."
    assert cut_loop(twice) == twice
    words = set(normalize_key(looping).split())
    assert grounded_sentences(looping, words) == "They grow apples."


def test_what_ships_has_no_broken_word_and_no_clause_said_twice() -> None:
    # Both from the embedded model's summary of a real meeting (qmsum IS1006a).
    text = (
        "The team kicks off the design of a f for the beginning of a new project. "
        "The price for the remote control is the aim for the price for the remote control. "
        "The team aims at twenty five Euro for the remote control. "
        "J. Smith uses an x-ray and they don't know. They settle on Plan B."
    )
    assert shippable(text) == (
        "The team aims at twenty five Euro for the remote control. "
        "J. Smith uses an x-ray and they don't know. They settle on Plan B."
    )
    assert shippable("R a rabbit") == ""
    assert shippable("A rabbit") == "A rabbit"
    assert shippable("At the end of the day we won, and at the end of the day we lost.") == ""


def test_whole_sentences_keeps_closing_quotes() -> None:
    assert whole_sentences('One. Two is "quoted." Three is cut') == 'One. Two is "quoted."'
    assert whole_sentences("Complete.") == "Complete."
    assert whole_sentences("no end at all") == "no end at all"


@pytest.mark.parametrize(
    ("needle", "haystack", "expected"),
    [
        ("Sarah Chen", "thanks, Dr. Sara Chen, for coming", "Sara Chen"),
        ("Guadalupe Island", "near Guadelupe Island in Mexico", "Guadelupe Island"),
        (
            "Monterey Bay Aquarium",
            "the Monteray Bay {disfmarker} Aquarium team",
            "Monteray Bay {disfmarker} Aquarium",
        ),
        ("Достоевский", "роман Достоевскии читали", "Достоевскии"),
    ],
)
def test_fuzzy_span_tolerates_asr_spelling(needle: str, haystack: str, expected: str) -> None:
    span = fuzzy_span(needle, haystack)
    assert span is not None
    assert haystack[span[0] : span[1]] == expected


@pytest.mark.parametrize(
    ("needle", "haystack"),
    [
        ("Jacques Cousteau", "we tagged sharks near Guadalupe Island"),
        ("NOAA", "with NASA and others"),  # short names must match exactly
        ("Stanford University", "a standard course at the university"),
    ],
)
def test_fuzzy_span_refuses_other_names(needle: str, haystack: str) -> None:
    assert fuzzy_span(needle, haystack) is None


def test_split_sentences_keeps_titles_initials_and_decimals_inside() -> None:
    text = "She said no. Dr. Chen and J. Smith left, etc. It cost 12.5 euros. Done"
    assert split_sentences(text) == [
        "She said no.",
        "Dr. Chen and J. Smith left, etc.",
        "It cost 12.5 euros.",
        "Done",
    ]


def test_decomposed_diacritics_match_like_composed_ones() -> None:
    decomposed = unicodedata.normalize("NFD", "Zoë Müller spoke")
    assert find_span("Zoe Muller", decomposed) == (0, 12)
    assert find_span("Zoë Müller", "Zoe Muller spoke") == (0, 10)
