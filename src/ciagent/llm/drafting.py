"""Draft tokens by prompt lookup, for speculative greedy decoding on the embedded model.

Metadata answers copy a great deal: names, mention texts and quotes from the transcript, and the
JSON structure from their own earlier items. The tokens that followed the latest earlier
occurrence of the context's last few tokens are a good guess at what comes next. The engine
decodes such a draft together with the sequence's next token in one step; the model's own
greedy choice at each position decides how much of it is kept, so the text is the one greedy
decoding gives (Saxena's "prompt lookup decoding", the n-gram drafts of llama.cpp and vLLM).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["Acceptance", "PromptLookup", "StepCost"]


class PromptLookup:
    """An index of a sequence's n-grams (n up to `longest`) to the position that followed
    their latest occurrence."""

    def __init__(self, tokens: Iterable[int], longest: int = 4) -> None:
        self.tokens: list[int] = []
        self.longest = longest
        self._next: list[dict[tuple[int, ...], int]] = [{} for _ in range(longest + 1)]
        self.extend(tokens)

    def extend(self, tokens: Iterable[int]) -> None:
        for token in tokens:
            self.tokens.append(token)
            end = len(self.tokens) - 1  # the n-grams ending before it are followed by it
            for n in range(1, min(self.longest, end) + 1):
                self._next[n][tuple(self.tokens[end - n : end])] = end

    def draft(self, limit: int) -> list[int]:
        """Up to `limit` tokens that followed the longest recent match of the last tokens."""
        if limit <= 0:
            return []
        tokens = self.tokens
        for n in range(min(self.longest, len(tokens)), 0, -1):
            start = self._next[n].get(tuple(tokens[-n:]))
            if start is not None:
                return tokens[start : start + min(limit, _LENGTH.get(n, 8))]
        return []


# Longest draft per matched n-gram length: a single matching token is a weak guess.
_LENGTH = {1: 3, 2: 6, 3: 8, 4: 8}


class StepCost:
    """A decode step's seconds as fixed + per-token cost, fitted online to the steps timed
    (least squares, older steps weighing less). On CPUs a step costs a fixed part (every
    weight is read once) and a part per token in it."""

    def __init__(self, fixed_s: float = 0.045, per_token_s: float = 0.008) -> None:
        prior = 8.0  # weight of the prior, in steps: two points on its line
        self._w = prior
        self._x = prior * 4.5
        self._y = prior * (fixed_s + per_token_s * 4.5)
        self._xx = prior * (1 + 64) / 2
        self._xy = prior * ((fixed_s + per_token_s) + 8 * (fixed_s + per_token_s * 8)) / 2

    def add(self, tokens: int, seconds: float, *, keep: float = 0.98) -> None:
        self._w = self._w * keep + 1
        self._x = self._x * keep + tokens
        self._y = self._y * keep + seconds
        self._xx = self._xx * keep + tokens * tokens
        self._xy = self._xy * keep + tokens * seconds

    def line(self) -> tuple[float, float]:
        """(fixed seconds, seconds per token), each at least a microsecond."""
        spread = self._w * self._xx - self._x * self._x
        per_token = (self._w * self._xy - self._x * self._y) / spread if spread > 0 else 0.0
        per_token = max(per_token, 1e-6)
        fixed = max((self._y - per_token * self._x) / self._w, 1e-6)
        return fixed, per_token


class Acceptance:
    """How often one sequence's draft tokens are right, given the ones before them were."""

    def __init__(self) -> None:
        self.right, self.wrong = 3.0, 1.0  # a prior: three of four

    def add(self, drafted: int, matched: int) -> None:
        self.right += matched
        self.wrong += 1 if matched < drafted else 0

    def length(self, worth: float, longest: int = 8) -> int:
        """The longest draft whose last token is right with probability at least `worth`."""
        rate = self.right / (self.right + self.wrong)
        if worth <= 0:
            return longest
        if worth >= 1 or rate <= 0:
            return 0
        return max(0, min(longest, int(math.log(worth) / math.log(rate)))) if rate < 1 else longest
