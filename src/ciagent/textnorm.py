"""Text normalisation shared by the prompts and the verifier.

`clean` removes transcription-corpus markers (`{disfmarker}`, `{vocalsound}`, `<laugh>`, ...)
from what the model reads, which saves tokens and confuses it less. `find_span` locates a phrase in
a segment's original text, tolerant of casing, punctuation, whitespace and those markers, and
returns the exact original span, so kept evidence is always a verbatim slice of the transcript.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache

from ciagent.vocabulary import FILLERS, STOPWORDS

__all__ = [
    "MARKER",
    "clean",
    "content_words",
    "cut_loop",
    "find_span",
    "fuzzy_span",
    "grounded_sentences",
    "mentions_words",
    "normalize_key",
    "repeats_itself",
    "shippable",
    "spelled_out",
    "split_sentences",
    "whole_sentences",
]

MARKER = re.compile(
    r"\{[a-z_]+\}|<(?:laugh|noise|breath|cough|unk|sil)[^>]*>|\[(?:inaudible|crosstalk)\]"
)
_SPACE = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?])")


def clean(text: str) -> str:
    """The text without corpus markers, with tidy whitespace, for the model to read."""
    without = MARKER.sub(" ", text)
    return _SPACE_BEFORE_PUNCT.sub(r"\1", _SPACE.sub(" ", without)).strip()


def _is_word_char(char: str) -> bool:
    return unicodedata.category(char)[0] in ("L", "N", "M")


def _unspaced(char: str) -> bool:
    """Scripts written without spaces between words (Chinese, Japanese, Thai, ...): each
    character is matched as a word of its own."""
    code = ord(char)
    return (
        0x0E00 <= code <= 0x0EFF  # Thai, Lao
        or 0x1000 <= code <= 0x109F  # Myanmar
        or 0x1780 <= code <= 0x17FF  # Khmer
        or 0x3040 <= code <= 0x30FF  # Hiragana, Katakana
        or 0x3400 <= code <= 0x9FFF  # CJK ideographs
        or 0xF900 <= code <= 0xFAFF
        or 0x20000 <= code <= 0x2FFFF
    )


def _fold_char(char: str) -> str:
    """Casefolded, and for Latin, Greek and Cyrillic letters without diacritics (ASR output
    often drops them: "Zoe Muller" for "Zoë Müller")."""
    if ord(char) < 0x0530:
        decomposed = unicodedata.normalize("NFKD", char)
        char = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFKC", char).casefold()


@lru_cache(maxsize=4096)
def _char(char: str) -> tuple[str, bool] | None:
    """A character as `_folded` reads it: None between words; else its folded form and whether
    it is a word of its own (looked up once per character: every name and line passes here)."""
    if not _is_word_char(char):
        return None
    return _fold_char(char), _unspaced(char)


@lru_cache(maxsize=8192)
def _folded(text: str) -> tuple[str, tuple[int, ...]]:
    """Casefolded letters and digits with single spaces between words, and for each output
    character the index of the original character it came from."""
    masked = MARKER.sub(lambda m: " " * len(m.group(0)), text)
    out: list[str] = []
    index: list[int] = []
    pending_space = False
    for position, char in enumerate(masked):
        read = _char(char)
        if read is None:
            pending_space = True
            continue
        folded, alone = read
        if (pending_space or alone) and out and out[-1] != " ":
            out.append(" ")
            index.append(position)
        pending_space = alone
        out.extend(folded)
        index.extend([position] * len(folded))
    return "".join(out), tuple(index)


def fuzzy_span(
    needle: str, haystack: str, min_score: float = 88.0, min_length: int = 6
) -> tuple[int, int] | None:
    """Like `find_span`, tolerant of ASR spelling noise ("Sara Chen" for "Sarah Chen"): the best
    approximate match scoring at least `min_score` (rapidfuzz, 0-100), widened to whole words.
    Needles shorter than `min_length` characters must match exactly (see `find_span`)."""
    from rapidfuzz import fuzz

    key = normalize_key(needle)
    if len(key) < min_length:
        return None
    folded, index = _folded(haystack)
    if len(folded) < len(key):
        # rapidfuzz would align the shorter text inside the longer: "So" inside "Professor".
        if not folded or fuzz.ratio(key, folded) < min_score:
            return None
        return index[0], index[-1] + 1
    found = fuzz.partial_ratio_alignment(key, folded, score_cutoff=min_score)
    if found is None or found.dest_end - found.dest_start < 0.8 * len(key):
        return None
    start, end = found.dest_start, found.dest_end
    while start < end and folded[start] == " ":
        start += 1
    while end > start and folded[end - 1] == " ":
        end -= 1
    if start == end:
        return None
    while start > 0 and folded[start - 1] != " ":
        start -= 1
    while end < len(folded) and folded[end] != " ":
        end += 1
    return index[start], index[end - 1] + 1


def normalize_key(text: str) -> str:
    """Casefolded words only: the key under which names and topics are compared."""
    return _folded(text)[0]


def find_span(needle: str, haystack: str) -> tuple[int, int] | None:
    """(start, end) of `needle` in `haystack` as original character offsets, or None.

    Matching ignores case, punctuation, whitespace and corpus markers, and only at word
    boundaries ("Ann" is not found inside "Annual").
    """
    key = normalize_key(needle)
    if not key:
        return None
    folded, index = _folded(haystack)
    start = 0
    while True:
        found = folded.find(key, start)
        if found < 0:
            return None
        end = found + len(key)
        left_ok = found == 0 or folded[found - 1] == " "
        right_ok = end == len(folded) or folded[end] == " "
        if left_ok and right_ok:
            return index[found], index[end - 1] + 1
        start = found + 1


_SENTENCE_END = re.compile("[.!?\u2026][\"'\u201d\u2019)\\]]*(?=\\s|$)")
_STOPWORDS = STOPWORDS | FILLERS


def whole_sentences(text: str) -> str:
    """The text cut after its last complete sentence, when a length limit cut it mid-sentence."""
    text = text.strip()
    ends = list(_SENTENCE_END.finditer(text))
    if not ends or ends[-1].end() == len(text):
        return text
    return text[: ends[-1].end()]


def content_words(text: str) -> list[str]:
    """The normalised words of `text` that carry meaning (longer than two letters, not a
    function word)."""
    return [w for w in normalize_key(text).split() if len(w) > 2 and w not in _STOPWORDS]


def mentions_words(phrase: str, words: set[str]) -> bool:
    """Whether at least half of the phrase's content words occur in `words` (normalised words),
    allowing for inflection ("tagging" matches "tagged")."""
    content = content_words(phrase)
    if not content:
        return False
    stems = {w[:4] for w in words if len(w) > 2}
    present = sum(1 for w in content if w in words or (len(w) >= 4 and w[:4] in stems))
    return present * 2 >= len(content)


_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w'\u2019-]*")
_SENTENCE = re.compile(r"[^.!?\u2026]+(?:[.!?\u2026]+[\"'\u201d\u2019)\]]*|$)")


def repeats_itself(sentence: str, n: int = 3, limit: int = 3) -> bool:
    """Whether some run of `n` words occurs `limit` times or more: a decoding loop."""
    words = normalize_key(sentence).split()
    runs = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    return any(count >= limit for count in runs.values())


def cut_loop(text: str, n: int = 6, limit: int = 3) -> str:
    """The text before a decoding loop: cut where a run of `n` words that occurs `limit`
    times or more comes round the second time (the text itself when nothing loops)."""
    folded, index = _folded(text)
    starts = [m.start() for m in re.finditer(r"\S+", folded)]
    words = folded.split()
    runs = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    counts = Counter(runs)
    seen: set[tuple[str, ...]] = set()
    for position, run in enumerate(runs):
        if counts[run] >= limit and run in seen:
            return text[: index[starts[position]]].rstrip()
        seen.add(run)
    return text


_ABBREVIATION = re.compile(r"(?:\b(?:Dr|Mr|Mrs|Ms|Prof|St|Jr|Sr|vs|approx|e\.g|i\.e)|\b[A-Z])\.$")
_BOUNDARY = re.compile("(?<=[.!?\u2026])\\s+|(?<=[.!?\u2026][\"'\u201d\u2019)\\]])\\s+")


def split_sentences(text: str) -> list[str]:
    """The sentences of a summary, in order (a claim each); "Dr.", an initial or a decimal
    point ends none."""
    sentences: list[str] = []
    pending = ""
    for piece in _BOUNDARY.split(text.strip()):
        if not piece:
            continue
        pending = f"{pending} {piece}" if pending else piece
        if not _ABBREVIATION.search(pending):
            sentences.append(pending)
            pending = ""
    if pending:
        sentences.append(pending)
    return sentences


# A word broken off, copied from a disfluent transcript ("the design of a f for the beginning",
# "R a rabbit"): a lone letter other than "a" and "I", in lower case, or opening the text
# before a word in lower case. Not an initial ("J. Smith") nor "x-ray", "don't".
_BROKEN_WORD = re.compile(r"(?<![\w'\u2019.-])[b-hj-z](?![\w'\u2019.-])|^[B-HJ-Z]\s+(?=[a-z])")


def _broken_off(sentence: str) -> bool:
    """Whether the sentence has a word broken off in it (see `_BROKEN_WORD`)."""
    return _BROKEN_WORD.search(sentence.strip()) is not None


def _says_twice(sentence: str, n: int = 5) -> bool:
    """Whether a run of `n` words comes twice in the sentence: "The price for the remote
    control is the aim for the price for the remote control"."""
    return repeats_itself(sentence, n, 2)


def grounded_sentences(text: str, words: set[str]) -> str:
    """The whole sentences of a model-written summary that are plausibly about the source.

    Dropped: a sentence cut off by a length limit, a sentence that loops on itself, and a
    sentence naming (capitalised words past its first) someone or something absent from `words`,
    the normalised words of the source (a small model echoes its instructions and examples).
    """
    kept = []
    for match in _SENTENCE.finditer(whole_sentences(cut_loop(text))):
        sentence = match.group(0).strip()
        if not sentence or repeats_itself(sentence):
            continue
        names = [normalize_key(m.group(0)) for m in _CAPITALISED.finditer(sentence)]
        if all(part in words for name in names for part in name.split()):
            kept.append(sentence)
    return " ".join(kept)


def shippable(text: str) -> str:
    """The sentences of a finished summary or title a person would ship: none with a word
    broken off in it, none that says a run of words twice (a small model copies disfluent
    lines and circles back on its own clause)."""
    kept = [s for s in split_sentences(text) if not _broken_off(s) and not _says_twice(s)]
    return " ".join(kept)


_SPELLED = re.compile(r"(?<![\w])((?:[A-Za-z]_){2,})(?![\w])")


def spelled_out(text: str) -> str:
    """Letters a transcript writes one by one as a person writes them: AMI's "D_V_D_ player"
    -> "DVD player", "L_C_D_" -> "LCD"."""
    return _SPELLED.sub(lambda m: m.group(1).replace("_", "").upper(), text)
