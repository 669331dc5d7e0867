"""`safety`: the passages a trust-and-safety team labels (profanity, violence, self-harm, drugs,
sexual content, hate), each with its severity and the lines it is said on, and the episode's
rating from them.

    from ciagent.signals.safety import SafetyFlag
    result = ciagent.enrich("episode.vtt", Settings(extractors=(SafetyFlag,)))
    result.extras["safety"]  # {"rating": "mature", "labels": [{"label": "drugs", ...}]}

Found two ways, joined: rules that need no model call (words and phrases that say the thing
plainly: "stabbed", "fentanyl", "wanted to end his life"), and the model's reading, kept only
where the lines it cites carry a word of that kind (a model's "violence" on "a shot of
espresso" or "she was killing it" is dropped: those idioms are read as what they are). Content
notes and help lines ("this episode talks about suicide", "call or text 988") are never
labelled: they warn of the content, they are not it.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field

from ciagent.extractors import FoundBy, Span, extractor, lines, said
from ciagent.types import Mention, Transcript

__all__ = ["SafetyFlag", "SafetyLabel", "SafetyReport", "flagged", "rated"]

Label = Literal["profanity", "violence", "self_harm", "drugs", "sexual", "hate"]
Severity = Literal["low", "medium", "high"]
Rating = Literal["clean", "mild", "mature", "explicit"]

_SEVERITY: dict[str, int] = {"low": 1, "medium": 2, "high": 3}
_RATING: dict[int, Rating] = {0: "clean", 1: "mild", 2: "mature", 3: "explicit"}
_PEOPLE = r"(?:me|him|her|them|us|you|someone|somebody|a man|a woman|a kid|his \w+|her \w+)"
_SELVES = r"(?:myself|himself|herself|themselves|yourself|ourselves)"


def _words(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"\b(?:{pattern})\b", re.IGNORECASE)


# What says the thing plainly, strongest first: (label, severity, pattern).
_RULES: list[tuple[Label, Severity, re.Pattern[str]]] = [
    ("profanity", "high", _words(r"(?:mother)?fuck\w*|cunts?")),
    ("profanity", "medium", _words(r"shit\w*|bullshit|bitch\w*|assholes?|bastards?|dickheads?")),
    ("profanity", "low", _words(r"(?:god)?damn(?:ed|it)?|crap|(?:what|the|to) the hell|hell of")),
    (
        "violence",
        "high",
        _words(
            rf"stabb(?:ed|ing)|murder(?:ed|s|ing|er|ers)?|gunshot\w*|shot (?:and killed|dead)|"
            rf"shot {_PEOPLE}|shot at|killed {_PEOPLE}|beat(?:en)? to death|strangl\w+|"
            r"raped?|massacre\w*"
        ),
    ),
    (
        "violence",
        "medium",
        _words(
            rf"punch(?:ed|ing)|kick(?:ed|ing) {_PEOPLE}|(?:got|get|was|were) (?:kicked|hit|beaten)|"
            rf"beat {_PEOPLE} up|beaten up|assault(?:ed|s)?|attacked {_PEOPLE}|fist ?fights?"
        ),
    ),
    (
        "self_harm",
        "high",
        _words(
            rf"(?:tried|attempted|wanted) to (?:kill {_SELVES}|end (?:my|his|her|their|your) "
            rf"(?:own )?life|die)|attempted suicide|kill(?:ed|ing)? {_SELVES}|"
            r"end(?:ed)? (?:my|his|her|their|your) (?:own )?life|cutting (?:myself|himself|herself)"
        ),
    ),
    ("self_harm", "medium", _words(r"suicid\w*|self[- ]harm\w*")),
    (
        "drugs",
        "high",
        _words(r"overdos\w*|fentanyl|heroin|crack cocaine|meth(?:amphetamine)?|shoot(?:ing)? up"),
    ),
    (
        "drugs",
        "medium",
        _words(
            r"cocaine|weed|marijuana|cannabis|ecstasy|mdma|lsd|ketamine|naloxone|narcan|"
            r"(?:got|get|getting) high|stoned|drug (?:deal\w*|habit|addict\w*|use)|junkies?"
        ),
    ),
    (
        "sexual",
        "high",
        _words(r"porn\w*|orgasm\w*|genitals?|(?:had|having|have) sex|sex with"),
    ),
    ("sexual", "medium", _words(r"sex|sexual\w*|naked|nude|nudity|slept with|hooked up")),
    (
        "hate",
        "high",
        _words(
            r"(?:those|these|all|the) (?:\w+ ){1,2}(?:are|were) (?:animals|vermin|subhuman|"
            r"parasites|savages|filth|an infestation)|go back to (?:your|their) (?:own )?country|"
            r"white (?:power|supremac\w*)"
        ),
    ),
    ("hate", "medium", _words(r"racial slurs?|slurs?|hate speech")),
]
# Words of each kind a model's reading must cite to be kept.
_CUES: dict[str, re.Pattern[str]] = {
    "violence": _words(
        r"blood\w*|bleed\w*|wound\w*|stab\w*|shot|shoot\w*|guns?|gunshot\w*|knife|knives|"
        r"weapons?|fight\w*|punch\w*|kick\w*|hit|beat\w*|attack\w*|assault\w*|kill\w*|"
        r"murder\w*|violen\w*|injur\w*|abuse\w*|strangl\w*"
    ),
    "self_harm": _words(
        r"suicid\w*|self[- ]harm\w*|end (?:my|his|her|their) (?:own )?life|"
        r"kill (?:myself|himself|herself|themselves)|wanted to die"
    ),
    "drugs": _words(
        r"drugs|pills?|overdos\w*|opioids?|fentanyl|heroin|cocaine|meth\w*|weed|marijuana|"
        r"cannabis|naloxone|narcan|addict\w*|high|stoned|inject\w*|needles?"
    ),
    "sexual": _words(r"sex\w*|naked|nude\w*|porn\w*|slept with|hooked up|erotic\w*"),
    "hate": _words(r"hate speech|racis\w*|slurs?|bigot\w*|supremac\w*|vermin|subhuman"),
}
# Said as figures of speech, not as the thing: read out before a cue is looked for.
_IDIOMS = _words(
    r"kill(?:s|ed|ing)? it|killer \w+|shot of \w+|(?:flu|booster|best|big) shots?|"
    r"dying (?:for|to|of laughter)|high (?:school|schools|tide|season|end|point)|"
    r"hit (?:the|a|it|home|play|record)|beat (?:the|a|it)|fight (?:for|over)|"
    r"punch(?:es|ing|ed)? above|(?:it|that|this) (?:would be|is|was) suicidal|"
    r"(?:political|career|commercial|financial|economic) suicide"
)
# A content note or a help line warns of the content; it is not the content.
_NOTICE = _words(
    r"content (?:note|warning)|trigger warning|this episode (?:talks about|discusses|contains|"
    r"mentions|includes|deals with|covers)|if you (?:need|are in need of) (?:support|help)|"
    r"call or text \d+|crisis (?:line|text line)|hotline|helpline"
)


class SafetyLabel(BaseModel):
    """One labelled passage: the label, its severity, the lines, and who found it."""

    label: Label
    severity: Severity
    passages: list[Mention] = Field(min_length=1)
    start: float
    end: float
    found_by: list[FoundBy]


class SafetyReport(BaseModel):
    """The episode's rating (from its strongest label: none clean, low mild, medium mature,
    high explicit) and every labelled passage, in transcript order."""

    rating: Rating
    labels: list[SafetyLabel] = Field(default_factory=list)


def _notice(text: str) -> bool:
    return _NOTICE.search(text) is not None


def flagged(transcript: Transcript) -> list[dict[str, Any]]:
    """Passages labelled with no model call: each line's labels from the rules, strongest
    severity of each."""
    found: list[dict[str, Any]] = []
    for number, segment in enumerate(transcript.segments):
        if _notice(segment.text):
            continue
        text = _IDIOMS.sub(" ", segment.text)
        seen: set[str] = set()
        for label, severity, pattern in _RULES:
            if label not in seen and pattern.search(text):
                seen.add(label)
                passage = said(transcript, number)
                found.append({"label": label, "severity": severity, "passage": passage})
    return found


def cited(item: dict[str, Any], transcript: Transcript) -> bool:
    """Whether a model's labelled passage is worth keeping: its lines are no content note and
    carry a word of its label (profanity: a word the rules know)."""
    said_there = [transcript.segments[i].text for i in lines(item)]
    if not said_there or any(_notice(text) for text in said_there):
        return False
    text = _IDIOMS.sub(" ", " ".join(said_there))
    label = item.get("label")
    if label == "profanity":
        return any(pattern.search(text) for kind, _, pattern in _RULES if kind == label)
    cue = _CUES.get(str(label))
    return cue is not None and cue.search(text) is not None


def rated(items: list[dict[str, Any]]) -> dict[str, Any]:
    """One label per passage: items of one label on the same or the next line joined (the
    strongest severity, who found it), in transcript order; the rating from the strongest."""
    ordered = sorted(items, key=lambda item: (item["passage"]["segment_ids"][0], item["label"]))
    labels: list[dict[str, Any]] = []
    for item in ordered:
        passage = item["passage"]
        first = passage["segment_ids"][0]
        near = next(
            (
                label
                for label in reversed(labels)
                if label["label"] == item["label"]
                and first <= label["passages"][-1]["segment_ids"][-1] + 1
            ),
            None,
        )
        if near is None:
            labels.append(
                {
                    "label": item["label"],
                    "severity": item["severity"],
                    "passages": [passage],
                    "start": passage["start"],
                    "end": passage["end"],
                    "found_by": [item["found_by"]],
                }
            )
            continue
        if first > near["passages"][-1]["segment_ids"][-1]:
            near["passages"].append(passage)
            near["end"] = max(near["end"], passage["end"])
        if _SEVERITY[item["severity"]] > _SEVERITY[near["severity"]]:
            near["severity"] = item["severity"]
        if item["found_by"] not in near["found_by"]:
            near["found_by"] = sorted([*near["found_by"], item["found_by"]])
    labels.sort(key=lambda label: (label["start"], label["label"]))
    strongest = max((_SEVERITY[label["severity"]] for label in labels), default=0)
    return {"rating": _RATING[strongest], "labels": labels}


@extractor(
    "safety",
    "Passages a content moderator would label: profanity (swear words said), violence "
    "(people hurt, attacked, killed), self_harm (suicide, self-injury), drugs (illegal drug "
    "use, overdoses), sexual (sexual content), hate (hatred of a group). For each, the label, "
    "a severity (low, medium or high) and the line it is said on with a few of its words. "
    "Figures of speech are not labels ('killing it', 'a shot of espresso'), and neither is a "
    "warning about the episode's content. Most lines have no label: give none for them.",
    reduce=rated,
    find=flagged,
    confirm=cited,
    result=SafetyReport,
    max_items=6,
)
class SafetyFlag(BaseModel):
    label: Label
    severity: Severity
    passage: Span
