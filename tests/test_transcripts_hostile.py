"""Transcripts as they come in the wild, and as an attacker would write them: each read as
webvtt-py and srt read it, or refused with a TranscriptError naming the line; never a traceback."""

from __future__ import annotations

import codecs
import contextlib
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ciagent import TranscriptError, load_transcript
from tests.test_transcripts import write

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# YouTube's auto-captions: no blank line between some cues.
YOUTUBE = """WEBVTT
Kind: captions
Language: en

00:00:00.000 --> 00:00:02.000
welcome back to the show
00:00:02.000 --> 00:00:04.500
today Sarah Chen joins us

00:00:04.500 --> 00:00:07.000
she tags white sharks
00:00:07.000 --> 00:00:09.000
near Guadalupe Island
"""


def test_cues_without_a_blank_line_between_them_are_cues(tmp_path: Path) -> None:
    transcript = load_transcript(write(tmp_path, "yt.vtt", YOUTUBE))
    assert [s.text for s in transcript.segments] == [
        "welcome back to the show",
        "today Sarah Chen joins us",
        "she tags white sharks",
        "near Guadalupe Island",
    ]
    assert [(s.start, s.end) for s in transcript.segments] == [
        (0.0, 2.0),
        (2.0, 4.5),
        (4.5, 7.0),
        (7.0, 9.0),
    ]
    srt = "1\n00:00:01,000 --> 00:00:02,000\nOne.\n2\n00:00:02,000 --> 00:00:03,000\nTwo.\n"
    segments = load_transcript(write(tmp_path, "tight.srt", srt)).segments
    assert [(s.text, s.start) for s in segments] == [("One.", 1.0), ("Two.", 2.0)]


def test_a_repeated_timing_line_is_not_text(tmp_path: Path) -> None:
    vtt = "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\n00:00:01.000 --> 00:00:03.000\nHello there.\n"
    (segment,) = load_transcript(write(tmp_path, "twice.vtt", vtt)).segments
    assert (segment.text, segment.start, segment.end) == ("Hello there.", 1.0, 3.0)


def test_two_voices_in_one_cue_are_two_speakers(tmp_path: Path) -> None:
    cue = "<v Ana>Did you see it?</v>\n<v Bo>Yes, twice.</v>\n"
    vtt = f"WEBVTT\n\n00:00:00.000 --> 00:00:04.000\n{cue}"
    first, second = load_transcript(write(tmp_path, "voices.vtt", vtt)).segments
    assert (first.speaker, first.text) == ("Ana", "Did you see it?")
    assert (second.speaker, second.text) == ("Bo", "Yes, twice.")
    assert first.start == 0.0
    assert first.end == second.start
    assert 0.0 < first.end < 4.0
    assert second.end == 4.0


def test_ass_styling_is_removed_from_srt_text(tmp_path: Path) -> None:
    srt = "1\n00:00:01,000 --> 00:00:02,000\n{\\an8}Top line\\Nand more\\hhere\n"
    (segment,) = load_transcript(write(tmp_path, "ass.srt", srt)).segments
    assert segment.text == "Top line and more here"


@pytest.mark.parametrize(
    ("name", "content", "says", "line"),
    [
        ("x.vtt", "WEBVTTX\n\n00:00:01.000 --> 00:00:02.000\nHi\n", "must start with 'WEBVTT'", 1),
        ("nul.txt", "Ana: hello\n" * 1000 + "Bo: b\x00d\n", "NUL", 1001),
    ],
)
def test_bad_files_are_refused_naming_the_line(
    tmp_path: Path, name: str, content: str, says: str, line: int
) -> None:
    with pytest.raises(TranscriptError, match=says) as caught:
        load_transcript(write(tmp_path, name, content))
    assert caught.value.line == line


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_wide_encodings_without_a_byte_order_mark_are_read(tmp_path: Path, codec: str) -> None:
    text = "Ana: Grüße aus Köln.\nBo: ¿Qué tal?\n"
    path = tmp_path / "wide.txt"
    path.write_bytes(text.encode(codec))
    assert not path.read_bytes().startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    segments = load_transcript(path).segments
    assert [(s.speaker, s.text) for s in segments] == [
        ("Ana", "Grüße aus Köln."),
        ("Bo", "¿Qué tal?"),
    ]


def test_a_one_off_label_in_an_unlabelled_transcript_is_what_was_said(tmp_path: Path) -> None:
    text = "We went to the market early.\nDigo: no sé.\nThen it rained all day.\nAnd we left.\n"
    segments = load_transcript(write(tmp_path, "plain.txt", text)).segments
    assert all(s.speaker is None for s in segments)
    assert segments[1].text == "Digo: no sé."
    labelled = "Ana: hi\nBo: hello\nAna: how are you\nCaller: fine\n"
    speakers = [s.speaker for s in load_transcript(write(tmp_path, "l.txt", labelled)).segments]
    assert speakers == ["Ana", "Bo", "Ana", "Caller"]


def test_a_speaker_that_is_not_a_name_is_refused(tmp_path: Path) -> None:
    meeting = '{"meeting_transcripts": [{"speaker": {"n": 1}, "content": "Hello."}]}'
    with pytest.raises(TranscriptError, match=r"meeting_transcripts\[0\]\.speaker must be a name"):
        load_transcript(write(tmp_path, "m.json", meeting))


def test_deeply_nested_json_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TranscriptError, match="nested too deeply"):
        load_transcript(write(tmp_path, "deep.json", "[" * 100_000 + "]" * 100_000))


# -- fuzzing: whatever the bytes, a Transcript or a TranscriptError ---------------------------

FUZZ_EXAMPLES = 300  # per test, in every run (CI included)
_REAL = [p for p in sorted(EXAMPLES.iterdir()) if p.suffix in {".vtt", ".srt", ".txt"}]
_NAMES = ["t.vtt", "t.srt", "t.txt", "t.json", "t.transcript"]


def _read_or_refuse(path: Path) -> None:
    """Loading ends in a Transcript or a TranscriptError: any other exception fails the test."""
    with contextlib.suppress(TranscriptError):
        load_transcript(path)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=4096), name=st.sampled_from(_NAMES))
def test_random_bytes_are_read_or_refused(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, name: str
) -> None:
    _read_or_refuse(write(tmp_path_factory.mktemp("fuzz"), name, data))


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    source=st.sampled_from(_REAL),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    edits=st.integers(min_value=1, max_value=40),
)
def test_mutated_real_files_are_read_or_refused(
    tmp_path_factory: pytest.TempPathFactory, source: Path, seed: int, edits: int
) -> None:
    rng = random.Random(seed)
    data = bytearray(source.read_bytes())
    pieces = [
        b"\n",
        b"-->",
        b"00:00:01.000 --> 00:00:00.500",
        b"<v ",
        b"{\\an8}",
        b"\x00",
        b"\xff",
        b"WEBVTT",
        b"[",
        b"{",
    ]
    for _ in range(edits):
        at = rng.randrange(len(data) + 1)
        kind = rng.randrange(3)
        if kind == 0 and data:
            del data[at : at + rng.randrange(1, 20)]
        elif kind == 1:
            data[at:at] = rng.choice(pieces)
        elif data:
            data[min(at, len(data) - 1)] = rng.randrange(256)
    _read_or_refuse(write(tmp_path_factory.mktemp("mutated"), source.name, bytes(data)))


@settings(max_examples=FUZZ_EXAMPLES // 3, deadline=None)
@given(depth=st.integers(min_value=1, max_value=200_000), opener=st.sampled_from(["[", '{"a":']))
def test_nesting_of_any_depth_is_read_or_refused(
    tmp_path_factory: pytest.TempPathFactory, depth: int, opener: str
) -> None:
    closer = "]" if opener == "[" else "}"
    text = opener * depth + "1" + closer * depth
    _read_or_refuse(write(tmp_path_factory.mktemp("deep"), "t.json", text))
