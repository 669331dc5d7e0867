from __future__ import annotations

import json
from pathlib import Path

import pytest

from ciagent import TranscriptError, load_transcript
from tests.conftest import QMSUM


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_text_with_and_without_speakers_is_untimed(tmp_path: Path) -> None:
    path = write(
        tmp_path, "ep.txt", "Ana Ruiz: Hello there.\n\nJust a line: with a colon.\nBo: Hi.\n"
    )
    t = load_transcript(path)
    assert not t.timed
    assert t.format == "txt"
    assert [s.speaker for s in t.segments] == ["Ana Ruiz", None, "Bo"]
    assert t.segments[1].text == "Just a line: with a colon."
    assert [(s.start, s.end) for s in t.segments] == [(0, 0), (1, 1), (2, 2)]


def test_srt_cues_keep_times_and_speaker_labels(tmp_path: Path) -> None:
    srt = (
        "1\n00:00:01,500 --> 00:00:03,000\nAna: Hello <i>there</i>.\n\n"
        "2\n00:01:02,000 --> 00:01:04,250\nSecond line\nwraps here.\n"
    )
    t = load_transcript(write(tmp_path, "ep.srt", srt))
    assert t.timed
    assert t.format == "srt"
    assert t.segments[0].speaker == "Ana"
    assert t.segments[0].text == "Hello there."
    assert (t.segments[1].start, t.segments[1].end) == (62.0, 64.25)
    assert t.segments[1].text == "Second line wraps here."


def test_vtt_voices_notes_and_identifiers(tmp_path: Path) -> None:
    vtt = (
        "WEBVTT - title\n\nNOTE a comment\nspanning lines\n\n"
        "intro\n00:01.000 --> 00:04.000 align:start\n<v.loud Maya Okafor>Welcome &amp; hi</v>\n\n"
        "1:00:00.000 --> 1:00:02.500\n<v Sarah Chen>Thanks.\n"
    )
    t = load_transcript(write(tmp_path, "ep.vtt", vtt))
    assert [s.speaker for s in t.segments] == ["Maya Okafor", "Sarah Chen"]
    assert t.segments[0].text == "Welcome & hi"
    assert (t.segments[1].start, t.segments[1].end) == (3600.0, 3602.5)


def test_whisper_json(tmp_path: Path) -> None:
    doc = {
        "text": "...",
        "segments": [
            {"start": 0.0, "end": 2.5, "text": " Hello."},
            {"start": 2.5, "end": 4, "text": "  "},
            {"start": 4, "end": 5, "text": "Bye.", "speaker": "B"},
        ],
    }
    t = load_transcript(write(tmp_path, "ep.json", json.dumps(doc)))
    assert t.format == "whisper"
    assert t.timed
    assert [s.text for s in t.segments] == ["Hello.", "Bye."]
    assert [s.id for s in t.segments] == [0, 1]


def test_qmsum_meeting_uses_turn_indices() -> None:
    t = load_transcript(QMSUM / "IS1006a.json")
    assert t.format == "qmsum"
    assert not t.timed
    assert all(s.start == s.end == s.id for s in t.segments)
    assert t.segments[0].speaker


def test_format_detected_from_content_without_extension(tmp_path: Path) -> None:
    vtt = write(tmp_path, "episode", "WEBVTT\n\n00:00.000 --> 00:01.000\nHi.\n")
    srt = write(tmp_path, "episode2", "1\n00:00:00,000 --> 00:00:01,000\nHi.\n")
    assert load_transcript(vtt).format == "vtt"
    assert load_transcript(srt).format == "srt"


def test_hash_depends_on_content_not_path(tmp_path: Path) -> None:
    a = load_transcript(write(tmp_path, "a.txt", "A: one\nB: two\n"))
    b = load_transcript(write(tmp_path, "b.txt", "A: one\nB: two\n"))
    c = load_transcript(write(tmp_path, "c.txt", "A: one\nB: three\n"))
    assert a.sha256 == b.sha256 != c.sha256


@pytest.mark.parametrize(
    ("name", "content", "message", "line"),
    [
        ("empty.txt", "  \n\n", "empty transcript", None),
        ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file", None),
        ("latin1.txt", "A: fine\nB: caf\xe9\n".encode("latin-1"), "not valid UTF-8", 2),
        (
            "bad.srt",
            "1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:0x --> 00:00:03\nno\n",
            "malformed cue timing",
            6,
        ),
        ("bad.vtt", "WEBVTT\n\n00:01.000 -> 00:02.000\nhi\n", "expected a cue timing line", 3),
        ("nohead.vtt", "00:01.000 --> 00:02.000\nhi\n", "must start with 'WEBVTT'", 1),
        ("bad.json", '{"segments": [\n{"start": 0,}\n]}', "invalid JSON", 2),
        ("other.json", '{"hello": 1}', "unknown JSON transcript", None),
        (
            "neg.json",
            '{"segments": [{"start": -1, "end": 2, "text": "x"}]}',
            "must not be negative",
            None,
        ),
        ("episode.docx", "just some words", "unknown transcript format", None),
    ],
)
def test_bad_input_names_file_and_line(
    tmp_path: Path, name: str, content: str | bytes, message: str, line: int | None
) -> None:
    path = write(tmp_path, name, content)
    with pytest.raises(TranscriptError) as caught:
        load_transcript(path)
    error = caught.value
    assert message in str(error)
    assert error.source == str(path)
    assert error.line == line
    assert str(path) in str(error)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TranscriptError, match="no such file"):
        load_transcript(tmp_path / "nope.vtt")


def test_utf16_with_bom(tmp_path: Path) -> None:
    path = write(tmp_path, "ep.txt", "A: naïve café\n".encode("utf-16"))
    assert load_transcript(path).segments[0].text == "naïve café"
