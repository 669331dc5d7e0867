"""Answers that are not JSON, as the response cache holds them: prose, and a one-token choice
read from its likeliest first tokens (OpenAI's `logprobs`/`top_logprobs`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import BaseModel

__all__ = ["FLOOR", "TOP_LOGPROBS", "Prose", "Ranked", "choice_logprobs"]

TOP_LOGPROBS = 20  # the most OpenAI-compatible servers give
FLOOR = -30.0  # the log-probability of an option not among the likeliest tokens


def choice_logprobs(likeliest: Sequence[tuple[str, float]]) -> dict[str, Any]:
    """An OpenAI choice's `logprobs` for a first token's likeliest alternatives (the likeliest
    first): what `Ranked.read` reads back."""
    top = [{"token": token, "logprob": logprob} for token, logprob in likeliest]
    return {"content": [{**top[0], "top_logprobs": top}]}


class Prose(BaseModel):
    """A prose answer."""

    missing: ClassVar[str] = "empty answer"
    text: str

    @classmethod
    def read(cls, response: Any) -> Prose | None:
        """The answer's text, or None when it is empty."""
        written = str(response.choices[0].message.content or "").strip()
        return cls(text=written) if written else None


class Ranked(BaseModel):
    """The likeliest first tokens of an answer, stripped of spaces, with log-probabilities."""

    missing: ClassVar[str] = "no log-probabilities in the answer (does the server give them?)"
    logprobs: dict[str, float]

    def of(self, option: str) -> float:
        return self.logprobs.get(option, FLOOR)

    @classmethod
    def read(cls, response: Any) -> Ranked | None:
        """The first token's likeliest alternatives, or None when the server gave none. Tokens
        that differ only by spaces ("A", " A") are one option: their probabilities add."""
        logprobs = getattr(response.choices[0], "logprobs", None)
        content = getattr(logprobs, "content", None) or []
        if not content:
            return None
        found: dict[str, float] = {}
        for top in getattr(content[0], "top_logprobs", None) or []:
            token, logprob = str(top.token).strip(), float(top.logprob)
            if token in found:
                found[token] = math.log(math.exp(found[token]) + math.exp(logprob))
            elif token:
                found[token] = logprob
        return cls(logprobs=found) if found else None
