"""The embedded model's engine on the real model: time limits, cancellation, batching."""

from __future__ import annotations

import asyncio
import json
import math
import time
from pathlib import Path

import pytest

import ciagent
from ciagent import Settings
from ciagent.budget import Ledger
from ciagent.errors import ModelCallError
from ciagent.llm.backend import CallTag, ChatRequest
from ciagent.llm.call import ModelClient
from ciagent.llm.embedded import EmbeddedOptions, LocalLlama
from ciagent.llm.generation import GenerationRequest
from ciagent.llm.retry import is_transient
from ciagent.llm.usage import UsageMeter
from ciagent.prompts import load_prompt
from ciagent.resolve import backend
from ciagent.settings import DEFAULT_MODEL
from ciagent.steps.contrast import PROMPT

pytestmark = pytest.mark.slow

JUDGE0 = CallTag("judge", part="0")
LONG_ANSWER = [{"role": "user", "content": "Count from 1 to 2000, one number per line."}]


def _model(models_dir: Path) -> LocalLlama:
    return LocalLlama.get(EmbeddedOptions(models_dir=models_dir))


def _idle(llama: LocalLlama, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while llama.engine.in_flight() and time.monotonic() < deadline:
        time.sleep(0.05)
    return llama.engine.in_flight() == 0


def test_a_generation_past_its_time_limit_is_stopped(models_dir: Path) -> None:
    """One second of a generation asked for 3,000 tokens: stopped at the limit, reported as the
    embedded model's own timeout (not retried), and the model answers the next request."""
    llama = _model(models_dir)  # loaded before the clock starts
    local = backend(Settings(model=DEFAULT_MODEL, models_dir=models_dir))
    asked = ChatRequest(
        messages=tuple(LONG_ANSWER), tag=CallTag("count"), max_tokens=3000, timeout_s=1.0
    )
    started = time.monotonic()
    with pytest.raises(ModelCallError, match="GenerationTimeout") as stopped:
        asyncio.run(local.complete(asked))
    assert time.monotonic() - started < 10  # 3,000 tokens take minutes here
    assert not is_transient(stopped.value)
    assert _idle(llama, 2)
    answer = llama.chat([{"role": "user", "content": "Say yes."}], {"max_tokens": 4})
    assert answer["choices"][0]["message"]["content"]


def test_cancelling_aenrich_stops_the_model_and_releases_the_budget(
    data_dir: Path, models_dir: Path, tmp_path: Path
) -> None:
    llama = _model(models_dir)
    settings = Settings(
        models_dir=models_dir,
        cache_dir=tmp_path,
        budget_usd=1.0,
        ledger_path=tmp_path / "ledger.sqlite",
        run_id="cancelled",
    )

    async def cancel_mid_call() -> float:
        task = asyncio.create_task(ciagent.aenrich(data_dir / "meeting.txt", settings))
        deadline = time.monotonic() + 60
        while not llama.engine.in_flight() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert llama.engine.in_flight(), "no embedded call started"
        await asyncio.sleep(0.5)
        task.cancel()
        started = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - started

    assert asyncio.run(cancel_mid_call()) < 2
    assert _idle(llama, 5), "the model kept generating for a cancelled enrichment"
    assert Ledger(tmp_path / "ledger.sqlite").held("run:cancelled").usd == 0
    answer = llama.chat([{"role": "user", "content": "Say yes."}], {"max_tokens": 4})
    assert answer["choices"][0]["message"]["content"]


def test_requests_in_flight_are_decoded_together_and_share_their_prefix(
    models_dir: Path,
) -> None:
    """Three requests with one system prompt, at once: each answers its own question in the
    schema asked, and the later ones read the shared system prompt from the first's cells."""
    llama = _model(models_dir)
    system = "You answer in JSON. " + "Keep every answer to a few words. " * 12
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string", "maxLength": 40}},
        "required": ["answer"],
    }
    params = {
        "max_tokens": 40,
        "response_format": {"type": "json_schema", "json_schema": {"schema": schema}},
    }
    questions = ["What colour is the sky?", "What is 2 + 2?", "Name a fruit."]
    requests = [
        llama.request(
            [{"role": "system", "content": system}, {"role": "user", "content": q}], params
        )
        for q in questions
    ]
    futures = [llama.engine.submit(request) for request in requests]
    done = [future.result(timeout=120) for future in futures]
    for generation in done:
        assert set(json.loads(generation.text)) == {"answer"}
        assert len(json.loads(generation.text)["answer"]) <= 40
    shared = len(llama.prompt_tokens([{"role": "system", "content": system}])) - 8
    assert sorted(g.cached_tokens for g in done)[1:] >= [shared, shared]
    assert isinstance(requests[0], GenerationRequest)


def test_a_one_letter_choice_reports_its_likeliest_first_tokens(
    models_dir: Path, tmp_path: Path
) -> None:
    """`logprobs` from the embedded backend: what the small models' claim judge reads
    (`ciagent.steps.contrast`), and the engine's own list behind it."""
    settings = Settings(models_dir=models_dir, cache_dir=tmp_path)
    client = ModelClient(settings, backend(settings), UsageMeter())
    values = {
        "evidence": "[1] Sarah: We agreed on twenty-five euros for the remote.",
        "first": "The team agreed on a price for the remote.",
        "second": "The team did not agree on a price for the remote.",
    }
    answer = asyncio.run(client.choice(JUDGE0, load_prompt(PROMPT), ("A", "B"), **values))
    chances = {option: math.exp(logprob) for option, logprob in answer.value.items()}
    assert all(0 < chance < 1 for chance in chances.values()), answer.value
    assert sum(chances.values()) > 0.5  # it answers with one of the letters
    [record] = client.meter.records
    assert (record.outcome, record.completion_tokens) == ("ok", 1)

    llama = _model(models_dir)
    prompt = llama.prompt_tokens([{"role": "user", "content": "Answer with one letter: A or B?"}])
    request = GenerationRequest(prompt=prompt, max_tokens=1, top_logprobs=5)
    generation = llama.engine.submit(request).result(timeout=120)
    tokens, logprobs = zip(*generation.top_logprobs, strict=True)
    assert len(tokens) == 5
    assert list(logprobs) == sorted(logprobs, reverse=True)
    assert 0 < sum(math.exp(p) for p in logprobs) <= 1 + 1e-6
    assert tokens[0] == generation.text  # greedy: the likeliest is the one written
