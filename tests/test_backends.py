"""The backend interface: a backend written here runs the whole graph; each layer around a
backend does its one thing, tested alone; a package adds a backend through an entry point."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

import ciagent
from ciagent import Settings
from ciagent.budget import BudgetGuard, Cap, Ledger
from ciagent.errors import BudgetExceeded, ModelCallError, StructuredOutputError
from ciagent.llm.backend import Backend, CallTag, ChatRequest, ChatResponse, TransientModelError
from ciagent.llm.layers import Budgeted, Metered, Retrying
from ciagent.llm.models import ModelSpec
from ciagent.llm.structured import Structured
from ciagent.llm.usage import UsageMeter
from ciagent.schemas import EpisodeSummary
from ciagent.testing import FakeRequest, default_answer

EPISODE = Path(__file__).resolve().parents[1] / "examples" / "harvest-notes-ep7.txt"
TAG = CallTag("summary")


class Scripted:
    """A backend of its own, in this file only: answers from a script of texts or errors, then
    as a plausible model would (the fake's answer rules), priced at $1 / $2 per Mtok."""

    spec = ModelSpec(
        model_id="scripted/one", context_window=16384, input_usd_per_mtok=1.0,
        output_usd_per_mtok=2.0,
    )  # fmt: skip

    def __init__(self, *script: str | Exception) -> None:
        self.script = list(script)
        self.asked: list[ChatRequest] = []

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self.asked.append(request)
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, Exception):
                raise step
            text = step
        else:
            messages = list(request.messages)
            asked = FakeRequest(self.spec.model_id, messages, request.response_schema)
            answer = default_answer(asked)
            text = answer if isinstance(answer, str) else json.dumps(answer)
        words = sum(len(str(m["content"]).split()) for m in request.messages)
        return ChatResponse(
            text=text, model=self.spec.model_id, prompt_tokens=words, completion_tokens=10
        )

    async def probe(self) -> bool:
        return True


def test_a_backend_written_in_a_test_runs_the_whole_graph() -> None:
    mine = Scripted()
    assert isinstance(mine, Backend)
    result = ciagent.enrich(EPISODE, Settings(cache=False), model=mine)
    assert result.status == "complete"
    assert result.summary
    assert result.entities
    assert list(result.cost.by_model) == ["scripted/one"]
    assert result.cost.calls == len(mine.asked) >= 2
    assert result.cost.usd == pytest.approx(
        (result.cost.prompt_tokens * 1.0 + result.cost.completion_tokens * 2.0) / 1e6
    )
    kinds = {request.tag.step for request in mine.asked}
    assert "notes" in kinds
    assert set(result.cost.by_step) <= kinds | {f"escalate.{k}" for k in kinds}


def test_a_backend_named_in_the_settings_as_module_attribute(tmp_path: Path) -> None:
    config = tmp_path / "ciagent.toml"
    config.write_text('model = "tests.test_backends:Scripted"\ncache = false\n')
    result = ciagent.enrich(EPISODE, Settings.load(config))
    assert list(result.cost.by_model) == ["scripted/one"]


def test_a_package_adds_a_backend_through_an_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An installed distribution's `ciagent.backends` entry point named `scripted` serves the
    model ids `scripted/...`: no edit to ciagent, no registry call."""
    info = tmp_path / "ciagent_scripted-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ciagent-scripted\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[ciagent.backends]\nscripted = tests.test_backends:from_entry_point\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    result = ciagent.enrich(EPISODE, Settings(model="scripted/any", cache=False))
    assert result.status == "complete"
    assert list(result.cost.by_model) == ["scripted/one"]
    assert MADE == ["scripted/any"]


MADE: list[str] = []


def from_entry_point(model: str, settings: Settings) -> Backend:
    MADE.append(model)
    return Scripted()


def _ask(backend: Backend, **fields: Any) -> ChatResponse:
    fields = {"max_tokens": 64, **fields}
    request = ChatRequest(
        messages=({"role": "user", "content": "Say something."},), tag=TAG, **fields
    )
    return asyncio.run(backend.complete(request))


def test_retrying_sends_again_on_a_transient_error_only() -> None:
    flaky = Scripted(TransientModelError("scripted/one", "503", retry_after=0.0), "fine")
    assert _ask(Retrying(flaky, attempts=3, deadline_s=10)).text == "fine"
    assert len(flaky.asked) == 2
    broken = Scripted(ModelCallError("scripted/one", "400 bad request"), "never")
    with pytest.raises(ModelCallError, match="400"):
        _ask(Retrying(broken, attempts=3, deadline_s=10))
    assert len(broken.asked) == 1
    down = Scripted(*[TransientModelError("scripted/one", "503", retry_after=0.0)] * 5)
    with pytest.raises(TransientModelError):
        _ask(Retrying(down, attempts=3, deadline_s=10))
    assert len(down.asked) == 3


def test_metered_records_each_request_and_types_a_stray_error() -> None:
    meter = UsageMeter()
    backend = Metered(Scripted("one", RuntimeError("socket closed")), meter)
    answered = _ask(backend)
    assert answered.receipt == 0
    with pytest.raises(ModelCallError, match="RuntimeError: socket closed"):
        _ask(backend)
    ok, failed = meter.records
    assert (ok.outcome, ok.tag, ok.prompt_tokens, ok.completion_tokens) == ("ok", TAG, 2, 10)
    assert ok.usd == pytest.approx((2 * 1.0 + 10 * 2.0) / 1e6)
    assert (failed.outcome, failed.completion_tokens) == ("error", 0)
    meter.mark_invalid(0, ValueError("not JSON"))
    assert meter.records[0].outcome == "invalid"
    assert meter.report(1.0).by_step["summary"].retries == 2


def test_budgeted_holds_settles_and_refuses_with_a_typed_cap(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    guard = BudgetGuard(ledger, [Cap("run:b", usd=1e-3, kind="run")])
    backend = Budgeted(Scripted("one", RuntimeError("down")), guard)
    _ask(backend)
    assert ledger.spent("run:b").usd == pytest.approx((2 * 1.0 + 10 * 2.0) / 1e6)
    with pytest.raises(RuntimeError):
        _ask(backend)
    assert ledger.held("run:b").usd == 0  # the failed request's hold was released
    with pytest.raises(BudgetExceeded) as refused:
        _ask(backend, max_tokens=1_000_000)  # its worst case alone is over the cap
    assert (refused.value.scope, refused.value.unit, refused.value.kind) == ("run:b", "usd", "run")


def test_structured_reasks_with_the_errors_shown_then_gives_up() -> None:
    fixed = Scripted("not json", json.dumps({"summary": "A good summary."}))
    value, used = asyncio.run(Structured(fixed, max_reasks=1).parse(_request(), EpisodeSummary))
    assert value.summary == "A good summary."
    assert used.completion_tokens == 20
    first, second = fixed.asked
    assert first.schema_name == "EpisodeSummary"
    assert first.response_schema is not None
    assert second.messages[-2] == {"role": "assistant", "content": "not json"}
    assert "Correct your JSON" in second.messages[-1]["content"]
    invalid: list[BaseException] = []
    hopeless = Scripted("no", "still no")
    structured = Structured(hopeless, max_reasks=1, on_invalid=lambda _, e: invalid.append(e))
    with pytest.raises(StructuredOutputError, match="after 2 attempts"):
        asyncio.run(structured.parse(_request(), EpisodeSummary))
    assert len(invalid) == 2


def test_a_budget_refusal_comes_up_through_the_layers_as_raised(tmp_path: Path) -> None:
    caps = [Cap("run:r", usd=1.0, kind="run"), Cap("episode:e", usd=1e-9, kind="episode")]
    guard = BudgetGuard(Ledger(tmp_path / "ledger.sqlite"), caps)
    layered = Retrying(Metered(Budgeted(Scripted(), guard), UsageMeter()), 3, 10)
    with pytest.raises(BudgetExceeded) as refused:
        asyncio.run(Structured(layered, max_reasks=2).parse(_request(), EpisodeSummary))
    assert refused.value.scope == "episode:e"
    assert refused.value.kind == "episode"


def _request() -> ChatRequest:
    return ChatRequest(
        messages=({"role": "user", "content": "Summarise."},), tag=TAG, max_tokens=200
    )
