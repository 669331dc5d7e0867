"""Retries on transient errors only: Retry-After honoured, every attempt counted, one loop."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import ciagent
from ciagent import ModelCallError, Settings
from ciagent.budget import Ledger
from ciagent.llm.backend import TransientModelError
from ciagent.llm.providers import litellm_module
from ciagent.llm.retry import as_model_error, is_transient, retry_after
from ciagent.testing import FakeModel, FakeRequest, default_answer

EPISODE = Path(__file__).resolve().parents[1] / "examples" / "harvest-notes-ep7.txt"
litellm = litellm_module()


def http_error(kind: type[Exception], status: int, headers: dict[str, str] | None = None) -> Any:
    response = httpx.Response(
        status, headers=headers or {}, request=httpx.Request("POST", "http://127.0.0.1/v1")
    )
    return kind(message=f"status {status}", llm_provider="fake", model="m", response=response)


def flaky(failures: list[Exception]) -> Any:
    """A responder that raises the given errors at the first notes requests, then answers
    (other calls, such as the chapter titles beside the notes, are answered)."""
    pending = list(failures)

    def respond(request: FakeRequest) -> dict[str, Any] | str:
        if pending and request.schema_name == "ChunkNotes":
            raise pending.pop(0)
        return default_answer(request)

    return respond


def notes_requests(fake: FakeModel) -> list[FakeRequest]:
    return [r for r in fake.requests if r.schema_name == "ChunkNotes"]


def test_rate_limits_are_retried_after_the_time_asked(tmp_path: Path) -> None:
    errors = [
        http_error(litellm.RateLimitError, 429, {"retry-after": "0.3"}),
        http_error(litellm.InternalServerError, 503),
    ]
    fake = FakeModel(respond=flaky(errors), input_usd_per_mtok=1.0, output_usd_per_mtok=2.0)
    settings = Settings(
        model=fake,
        cache=False,
        budget_usd=1.0,
        ledger_path=tmp_path / "ledger.sqlite",
        run_id="retry",
    )
    started = time.perf_counter()
    result = ciagent.enrich(EPISODE, settings)
    assert time.perf_counter() - started >= 0.3
    assert result.status == "complete"
    notes = result.cost.by_step["notes"]
    assert (notes.calls, notes.retries) == (3, 2)  # two failed attempts and the answer, counted
    ledger = Ledger(tmp_path / "ledger.sqlite")
    assert ledger.held("run:retry").usd == 0  # failed attempts released their reservations
    assert ledger.spent("run:retry").usd == pytest.approx(result.cost.usd)


def test_client_errors_are_not_retried() -> None:
    fake = FakeModel(respond=flaky([http_error(litellm.BadRequestError, 400)] * 5))
    with pytest.raises(ModelCallError, match="BadRequestError"):
        ciagent.enrich(EPISODE, Settings(model=fake, cache=False))
    assert len(notes_requests(fake)) == 1


def test_retries_stop_at_the_attempt_limit() -> None:
    errors = [http_error(litellm.InternalServerError, 500, {"retry-after": "0"})] * 10
    fake = FakeModel(respond=flaky(errors))
    with pytest.raises(ModelCallError, match="InternalServerError"):
        ciagent.enrich(EPISODE, Settings(model=fake, cache=False, max_retries=2))
    assert len(notes_requests(fake)) == 3  # one try and two retries, in one loop, not multiplied


def test_classification_and_retry_after_forms() -> None:
    def typed(error: Exception) -> ModelCallError:
        return as_model_error("m", error)

    assert is_transient(typed(http_error(litellm.RateLimitError, 429)))
    assert is_transient(typed(http_error(litellm.InternalServerError, 500)))
    assert not is_transient(typed(http_error(litellm.BadRequestError, 400)))
    assert not is_transient(typed(ValueError("bug")))
    assert not is_transient(ValueError("bug"))
    hosted = litellm.Timeout(message="slow", model="gpt-4o-mini", llm_provider="openai")
    assert is_transient(typed(hosted))
    asked = typed(http_error(litellm.RateLimitError, 429, {"retry-after": "2"}))
    assert isinstance(asked, TransientModelError)
    assert asked.retry_after == 2.0
    assert retry_after(http_error(litellm.RateLimitError, 429, {"retry-after": "2"})) == 2.0
    assert retry_after(http_error(litellm.RateLimitError, 429, {"retry-after-ms": "250"})) == 0.25
    dated = retry_after(
        http_error(litellm.RateLimitError, 429, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})
    )
    assert dated == 0.0  # a date in the past: no wait
    assert retry_after(http_error(litellm.RateLimitError, 429)) is None
