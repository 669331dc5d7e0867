"""What the embedded engine is asked and what it answers: one generation request, its result,
and the ways it can end without one."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "ContextOverflow",
    "Generation",
    "GenerationCancelled",
    "GenerationRequest",
    "GenerationTimeout",
    "expired",
    "fail",
]


class GenerationTimeout(TimeoutError):
    """A generation ran past its deadline and was stopped."""


class GenerationCancelled(Exception):
    """A generation was cancelled by its caller (or the engine closed) before it finished."""


class ContextOverflow(ValueError):
    """A prompt and its completion allowance do not fit one sequence's context."""


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: Literal["stop", "length"]
    cached_tokens: int = 0
    rejections: int = 0
    drafted: int = 0  # draft tokens decoded beside the sequence's own
    accepted: int = 0  # of those, the ones greedy decoding would have chosen
    top_logprobs: tuple[tuple[str, float], ...] = ()  # the first token's likeliest, if asked
    read_s: float = 0.0  # from admission to the first token chosen
    write_s: float = 0.0  # from the first token chosen to the end


@dataclass(eq=False)
class GenerationRequest:
    prompt: list[int]
    max_tokens: int
    grammar: str | None = None
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    deadline: float | None = None  # time.monotonic()
    drafts: bool = True  # speculative drafts by prompt lookup (greedy decoding only)
    top_logprobs: int = 0  # report this many likeliest first tokens, with log-probabilities
    future: Future[Generation] = field(default_factory=Future)
    cancelled: bool = False

    def cancel(self) -> None:
        """Stop the generation at the next step (safe from any thread)."""
        self.cancelled = True


def expired(request: GenerationRequest, now: float) -> BaseException | None:
    if request.cancelled or request.future.cancelled():
        return GenerationCancelled("the generation was cancelled")
    if request.deadline is not None and now >= request.deadline:
        return GenerationTimeout("the generation ran past its time limit and was stopped")
    return None


def fail(request: GenerationRequest, error: BaseException) -> None:
    if not request.future.done():
        request.future.set_exception(error)
