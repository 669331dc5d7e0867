"""A labelled claim set from QMSum meetings, to measure a claim judge by balanced accuracy.

- supported: the sentences of a meeting's gold summary (the answer `ciagent.evals.datasets` reads;
  with `specific`, the answers to the meeting's specific queries too), six words or more;
- contradicted: one of them changed: a speaker's name or role swapped for another of the
  meeting's, a number changed, or the first auxiliary or past-tense verb negated ("is not",
  "did not agree"; a "not" already there is taken away);
- not_found: gold sentences of another meeting, those whose words (beyond the ones every
  meeting's transcript has) this meeting's transcript shares least.

Each class holds as many claims as the meeting has gold sentences, at most `per_class`. Choices
are drawn from a generator seeded with `seed` and the meeting: the same files and seed give the
same set.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ciagent.evals.datasets import read_dataset
from ciagent.negation import negate
from ciagent.retrieval import terms
from ciagent.textnorm import normalize_key, split_sentences
from ciagent.transcripts import load_transcript

__all__ = [
    "LABELS",
    "LabelledClaim",
    "balanced_accuracy",
    "build_claim_set",
    "confusion",
    "per_class_recall",
    "spread",
]

Label = Literal["supported", "contradicted", "not_found"]
Kind = Literal["gold", "swapped_name", "swapped_number", "negated", "other_meeting"]
LABELS: tuple[Label, ...] = ("supported", "contradicted", "not_found")
MIN_WORDS = 6
MAX_OVERLAP = 0.6  # the most a not-found claim's distinctive words may be in the transcript


class LabelledClaim(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    meeting: str
    text: str
    label: Label
    source: str  # the gold sentence it was made from
    source_meeting: str
    kind: Kind


_TITLE = re.compile(r"^(?:Right Hon\.|Hon\.|Mrs?\.|Ms\.|Dr\.?|The)\s+|\s+AM$")


def _name_pools(speakers: Iterable[str]) -> list[set[str]]:
    """Full names (AMI's roles among them), surnames, and roles ("Prime Minister")."""
    people: set[str] = set()
    surnames: set[str] = set()
    roles: set[str] = set()
    for speaker in speakers:
        label, _, rest = speaker.partition("(")
        name = _TITLE.sub("", label.strip())
        inner = rest.partition(")")[0].partition("(")[0].strip()
        if inner and "," not in inner and not _TITLE.match(inner):
            roles.add(inner)
        words = name.split()
        (people if len(words) > 1 else roles).add(name)
        if len(words) > 1 and len(words[-1]) > 2:
            surnames.add(words[-1])
    return [pool for pool in (people, surnames, roles) if len(pool) > 1]


def _swap_name(sentence: str, pools: list[set[str]], rng: random.Random) -> str | None:
    found: list[tuple[int, int, set[str]]] = []
    for name, pool in sorted(((n, p) for p in pools for n in p), key=lambda x: -len(x[0])):
        pattern = rf"(?:\b(?:Dr|Mrs?|Ms)\.?\s+)?\b{re.escape(name)}\b"
        for m in re.finditer(pattern, sentence, re.IGNORECASE):
            free = all(m.end() <= start or m.start() >= end for start, end, _ in found)
            if free and m.group(0)[0].isupper():
                found.append((m.start(), m.end(), pool))
    if not found:
        return None
    start, end, pool = rng.choice(sorted(found, key=lambda item: item[0]))
    present = f" {normalize_key(sentence)} "
    others = sorted(n for n in pool if f" {normalize_key(n)} " not in present)
    return f"{sentence[:start]}{rng.choice(others)}{sentence[end:]}" if others else None


_NUMBER_WORDS = [
    ["two", "three", "four", "five", "six", "seven", "eight", "nine"],
    ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"],
    ["hundred", "thousand", "million", "billion"],
]
_NUMBER = re.compile(
    rf"\d[\d,.]*\d|\d|\b(?:{'|'.join(w for g in _NUMBER_WORDS for w in g)})\b", re.IGNORECASE
)


def _swap_number(sentence: str, rng: random.Random) -> str | None:
    matches = list(_NUMBER.finditer(sentence))
    if not matches:
        return None
    found = rng.choice(matches)
    word = found.group(0)
    if word[0].isdigit():
        lead = re.split(r"[,.]", word)[0]
        value = int(lead)
        new = value + rng.choice((1, 2, 3)) if value >= 10 else rng.choice(range(2, 10))
        swapped = f"{new if new != value else value + 1}{word[len(lead) :]}"
    else:
        group = next(g for g in _NUMBER_WORDS if word.lower() in g)
        swapped = rng.choice([w for w in group if w != word.lower()])
        swapped = swapped.capitalize() if word[0].isupper() else swapped
    return f"{sentence[: found.start()]}{swapped}{sentence[found.end() :]}"


class _Meeting:
    def __init__(self, path: Path, specific: bool) -> None:
        (episode,) = read_dataset(path)
        texts = [episode.summary or ""]
        if specific:
            data = json.loads(path.read_text(encoding="utf-8"))
            texts += [str(q.get("answer", "")) for q in data.get("specific_query_list") or []]
        sentences = [s for t in texts for s in split_sentences(t) if len(s.split()) >= MIN_WORDS]
        self.id = episode.id
        self.gold = list(dict.fromkeys(sentences))
        segments = load_transcript(episode.transcript).segments
        self.pools = _name_pools(dict.fromkeys(s.speaker for s in segments if s.speaker))
        self.terms = {term for s in segments for term in terms(s.text)}
        self.words = {word for s in segments for word in normalize_key(s.text).split()}

    def claim(
        self, text: str, label: Label, source: str, kind: Kind, of: str = ""
    ) -> LabelledClaim:
        return LabelledClaim(
            meeting=self.id,
            text=text,
            label=label,
            source=source,
            source_meeting=of or self.id,
            kind=kind,
        )


def _round_robin(lists: Iterable[list[LabelledClaim]]) -> list[LabelledClaim]:
    queues = [list(items) for items in lists]
    out: list[LabelledClaim] = []
    while any(queues):
        out += [queue.pop(0) for queue in queues if queue]
    return out


def _contradicted(
    meeting: _Meeting, vocabulary: set[str], rng: random.Random
) -> list[LabelledClaim]:
    """Every change of every gold sentence, shuffled, the kinds taken in turn."""
    change: dict[Kind, Callable[[str], str | None]] = {
        "swapped_name": lambda s: _swap_name(s, meeting.pools, rng),
        "swapped_number": lambda s: _swap_number(s, rng),
        "negated": lambda s: negate(s, vocabulary),
    }
    made: dict[Kind, list[LabelledClaim]] = {kind: [] for kind in change}
    for sentence, (kind, perturb) in ((s, c) for s in meeting.gold for c in change.items()):
        text = perturb(sentence)
        if text is not None and normalize_key(text) != normalize_key(sentence):
            made[kind].append(meeting.claim(text, "contradicted", sentence, kind))
    for claims in made.values():
        rng.shuffle(claims)
    return _round_robin(made.values())


def build_claim_set(
    paths: list[Path], seed: int = 0, *, per_class: int = 25, specific: bool = False
) -> list[LabelledClaim]:
    """Each meeting's claims: supported, then contradicted, then not found (see the module)."""
    meetings = [_Meeting(Path(path), specific) for path in paths]
    vocabulary = set().union(*(m.words for m in meetings))
    common = set.intersection(*(m.terms for m in meetings)) if meetings else set()
    claims: list[LabelledClaim] = []
    for meeting in meetings:
        rng = random.Random(f"{seed}:{meeting.id}")
        size = min(per_class, len(meeting.gold))
        chosen = sorted(rng.sample(range(len(meeting.gold)), size))
        claims += [
            meeting.claim(meeting.gold[n], "supported", meeting.gold[n], "gold") for n in chosen
        ]
        claims += _contradicted(meeting, vocabulary, rng)[:size]
        ranked: list[tuple[float, float, str, str]] = []
        for other in (m for m in meetings if m is not meeting):
            for sentence in other.gold:
                distinct = set(terms(sentence)) - common
                shared = len(distinct & meeting.terms) / len(distinct) if distinct else 1.0
                if shared <= MAX_OVERLAP and sentence not in meeting.gold:
                    ranked.append((shared, rng.random(), other.id, sentence))
        claims += [
            meeting.claim(sentence, "not_found", sentence, "other_meeting", of)
            for _, _, of, sentence in sorted(ranked)[:size]
        ]
    return claims


def spread(claims: list[LabelledClaim], limit: int) -> list[LabelledClaim]:
    """At most `limit` claims, taken in turn from each class and within it from each meeting."""
    by_label = []
    for label in LABELS:
        of_label = [c for c in claims if c.label == label]
        meetings = dict.fromkeys(c.meeting for c in of_label)
        by_label.append(_round_robin([c for c in of_label if c.meeting == m] for m in meetings))
    return _round_robin(by_label)[:limit]


def confusion(pairs: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """Gold label -> predicted label -> count."""
    table: dict[str, Counter[str]] = {}
    for gold, predicted in pairs:
        table.setdefault(gold, Counter())[predicted] += 1
    return {gold: dict(counts) for gold, counts in table.items()}


def per_class_recall(pairs: Iterable[tuple[str, str]]) -> dict[str, float]:
    """For each class in gold, the share of its claims predicted as it (a claim predicted
    "unchecked", or anything else, is missed)."""
    return {gold: row.get(gold, 0) / sum(row.values()) for gold, row in confusion(pairs).items()}


def balanced_accuracy(pairs: Iterable[tuple[str, str]]) -> float:
    """The mean recall over the classes present in gold (0.0 with no pairs)."""
    recall = per_class_recall(pairs)
    return sum(recall.values()) / len(recall) if recall else 0.0
