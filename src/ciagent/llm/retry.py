"""Retries of one model request on transient errors only, with tenacity.

Transient: what a backend raises as `TransientModelError` (the hosted backend: 429, 408, 409 and
5xx answers, answers that arrive unreadable, timeouts and dropped connections, as `http_transient`
tells them apart; not the embedded model's own time limit: the same generation would run as long
again), and a plain `TimeoutError` or `ConnectionError` from a backend of a user's. The wait the
server asked for (`Retry-After`) is honoured; otherwise waits grow exponentially with full
jitter. The loop stops at an attempt count or an overall deadline, whichever comes first. This
is the only retry loop around a backend: litellm's own retries are off, and the structured layer
re-asks on invalid output only.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable

from openai import APIConnectionError, APIError, APIStatusError, APITimeoutError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from ciagent.errors import ModelCallError
from ciagent.llm.backend import TransientModelError
from ciagent.llm.usage import first_line

__all__ = ["as_model_error", "http_transient", "is_transient", "retry_after", "retrying"]

_RETRY_STATUS = frozenset({408, 409, 429})
_MAX_RETRY_AFTER_S = 120.0


def is_transient(error: BaseException) -> bool:
    """Whether a backend's error says that trying the same request again may succeed."""
    return isinstance(error, TransientModelError | TimeoutError | ConnectionError)


def as_model_error(model: str, error: BaseException) -> ModelCallError:
    """An error from a backend's client library (litellm's and openai's, or a plain timeout or
    dropped connection) as ciagent's typed one: transient, with the wait asked, or not."""
    reason = first_line(error)
    if http_transient(error) or isinstance(error, TimeoutError | ConnectionError):
        return TransientModelError(model, reason, retry_after=retry_after(error))
    return ModelCallError(model, reason)


def http_transient(error: BaseException) -> bool:
    """Whether an OpenAI-style client error (litellm raises these) may pass on another try."""
    if isinstance(error, APITimeoutError | APIConnectionError):
        return True
    if isinstance(error, APIStatusError | APIError):
        # litellm's APIError (not an APIStatusError) carries the status too. A 2xx status on an
        # error means the answer arrived unreadable (a body cut short): worth another try.
        status = getattr(error, "status_code", None)
        if not isinstance(status, int):
            return False
        unreadable = not isinstance(error, APIStatusError) and 200 <= status < 300
        return unreadable or status in _RETRY_STATUS or status >= 500
    return isinstance(error, TimeoutError | ConnectionError)


def retry_after(error: BaseException) -> float | None:
    """Seconds the server asked to wait (`Retry-After`: seconds or an HTTP date), if any."""
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None) or getattr(error, "litellm_response_headers", None)
    if not headers:
        return None
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return min(float(value) / 1000, _MAX_RETRY_AFTER_S)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return min(max(float(value), 0.0), _MAX_RETRY_AFTER_S)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None:
            return None
        return min(max(parsed.timestamp() - time.time(), 0.0), _MAX_RETRY_AFTER_S)


def _wait(fallback: Callable[[RetryCallState], float]) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        asked = getattr(error, "retry_after", None)
        return asked if asked is not None else fallback(state)

    return wait


def retrying(
    attempts: int, deadline_s: float, *, base_s: float = 0.5, cap_s: float = 20.0
) -> AsyncRetrying:
    """A tenacity loop: `attempts` tries at most, none started after `deadline_s`."""
    return AsyncRetrying(
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(attempts) | stop_after_delay(deadline_s),
        wait=_wait(wait_random_exponential(multiplier=base_s, max=cap_s)),
        reraise=True,
    )
