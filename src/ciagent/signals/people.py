"""`people`: who is in the episode and in what role (host, co-host, guest, producer), from the
voices of the transcript, introductions ("my guest tonight is Tomás Rivera", "I'm here with chef
Karim Benali") and self-introductions ("I'm Priya Raman"), each with the line that says so and
linked to the result's entity for that person.

    from ciagent.signals.people import Participant
    result = ciagent.enrich("episode.vtt", Settings(extractors=(Participant,)))
    result.extras["people"]  # [{"name": "Priya Raman", "role": "host", "entity": ...}]

People only mentioned (a guest's colleague, another show's host) are no participants: their
names are in the entities. A voice label that is a role or a code ("Project Manager", "PhD B")
names nobody.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field

from ciagent.extractors import Span, extractor, said
from ciagent.types import Transcript
from ciagent.vocabulary import is_role, is_speaker_label

__all__ = ["Participant", "cast", "introduced"]

Role = Literal["host", "co-host", "guest", "producer", "participant"]

_WORD = r"[A-ZÀ-Þ][\w'\u2019-]*\w"
_NAME = rf"(?P<name>{_WORD}(?:\s+(?:(?:de|da|van|von|del|la|le)\s+)?{_WORD}){{1,3}})"
_TITLE = r"(?:(?i:chef|dr\.?|doctor|professor|prof\.|author|writer|historian|nurse|charge nurse|"
_TITLE += r"reporter|journalist|my (?:friend|colleague)|the (?:author|writer|historian))\s+)?"
_SELF = re.compile(rf"(?:^|[.!?,]\s+|\b[Aa]nd\s+)(?:I'm|I am|[Mm]y name is)\s+{_NAME}")
_GUEST = re.compile(
    r"\b(?i:my guests?(?: today| tonight| this week)? (?:is|are)|our guests?(?: today| tonight|"
    r" this week)? (?:is|are)|joining (?:me|us)(?: today| tonight| now)? (?:is|are)|"
    r"I'm (?:here |joined |sitting )?(?:in [A-Z][\w-]*(?: [A-Z][\w-]*)? )?with|I'm talking "
    r"(?:to|with)|I'm joined by|we're joined by|please welcome)\s+" + _TITLE + _NAME
)
_WELCOMED = re.compile(rf"(?:^|[.!?]\s+)(?P<name>{_WORD}(?:\s+{_WORD})?), welcome\b")
_PRODUCER = re.compile(
    r"\b(?:[Pp]roduced by|[Oo]ur producers? (?:is|are)|[Ee]dited by|producer,)\s+" + _NAME
)
_HOSTING = re.compile(
    r"\b(?:welcome to|you're listening to|this is|podcast|the show|our show)\b", re.IGNORECASE
)
_OPENING = 4  # lines: a self-introduction there is the host's (or a co-host's)
_SHOW_VOICES = 3  # more named voices than this: a meeting, whose voices are participants
_ORDER: dict[str, int] = {"host": 0, "co-host": 1, "guest": 2, "producer": 3, "participant": 4}
_ASIDE = re.compile(r"\s*\(.*$")  # "Hon. Bill Blair (Minister of Public Safety)"
_COMPANY = re.compile(
    r"\b(?:Media|Productions?|Studios?|Network|Company|Inc|Ltd|LLC|Radio|Podcasts|Group)\.?$"
)


def _is_name(text: str) -> bool:
    return not is_role(text) and not is_speaker_label(text) and not _COMPANY.search(text)


def _item(transcript: Transcript, name: str, role: Role, line: int) -> dict[str, Any]:
    return {"name": name, "role": role, "evidence": said(transcript, line)}


def introduced(transcript: Transcript) -> list[dict[str, Any]]:
    """People and roles found with no model call: self-introductions (in the opening lines, the
    host, then co-hosts), introductions of a guest, producer credits, and the voices that speak
    (a guest when someone else hosts)."""
    found: list[dict[str, Any]] = []
    hosts: list[str] = []
    for number, segment in enumerate(transcript.segments):
        text = segment.text
        for match in _SELF.finditer(text):
            name = match.group("name")
            opening = number < _OPENING or _HOSTING.search(text) is not None
            role: Role = "guest"
            if opening:
                role = "co-host" if hosts and name not in hosts else "host"
                hosts.append(name)
            found.append(_item(transcript, name, role, number))
        found += [
            _item(transcript, m.group("name"), "guest", number)
            for m in _GUEST.finditer(text)
            if m.group("name") not in hosts
        ]
        found += [
            _item(transcript, m.group("name"), "guest", number)
            for m in _WELCOMED.finditer(text)
            if any(_same(m.group("name"), voice) for voice in transcript.speakers)
        ]
        found += [
            _item(transcript, m.group("name"), "producer", number) for m in _PRODUCER.finditer(text)
        ]
    voices: dict[str, int] = {}
    for number, segment in enumerate(transcript.segments):
        voice = _ASIDE.sub("", segment.speaker or "")
        if voice and _is_name(voice):
            voices.setdefault(voice, number)
    show = len(voices) <= _SHOW_VOICES
    for voice, first in voices.items():
        speaking: Role = "participant"
        if show:
            speaking = "host" if not hosts and first == min(voices.values()) else "guest"
        found.append(_item(transcript, voice, speaking, first))
    return [item for item in found if _is_name(item["name"])]


def _same(a: str, b: str) -> bool:
    """One person: the same name, or one is the other's first or last name ("Tomás")."""
    x, y = a.casefold().split(), b.casefold().split()
    return x == y or (len(x) == 1 and x[0] in (y[0], y[-1])) or (len(y) == 1 and y[0] in x)


def cast(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per person, under the longest form of the name: a role that rules found
    before the model's, and of those the first said (an introduction, then the voice); in the
    order they first appear."""
    ordered = sorted(
        items,
        key=lambda item: (
            item["found_by"] != "rules",
            item["evidence"]["segment_ids"][0],
            _ORDER[item["role"]],
        ),
    )
    people: list[dict[str, Any]] = []
    for item in ordered:
        same = next((p for p in people if _same(p["name"], item["name"])), None)
        if same is None:
            people.append(dict(item))
        elif len(item["name"]) > len(same["name"]):
            same["name"] = item["name"]
    return sorted(people, key=lambda p: (_ORDER[p["role"]], p["evidence"]["segment_ids"][0]))


@extractor(
    "people",
    "The people taking part in the episode and their role in it: host (who presents the "
    "show), co-host, guest (who is interviewed or visits), producer (credited for making "
    "the show). For each, the name as said and the line that shows the role (an "
    "introduction, a self-introduction, a credit). People who are only talked about are not "
    "taking part: leave them out.",
    reduce=cast,
    find=introduced,
    link="name",
    max_items=4,
)
class Participant(BaseModel):
    name: str = Field(min_length=2, max_length=80)
    role: Role
    evidence: Span
