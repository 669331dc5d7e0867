"""Backends' requests as their servers take them, and prices (no model loaded, no network)."""

from __future__ import annotations

import asyncio
import json

from ciagent.llm.backend import Backend, CallTag, ChatRequest
from ciagent.llm.backends.hosted import HostedBackend
from ciagent.llm.embedded import grammar_for
from ciagent.llm.models import EMBEDDED_PRICING, ModelSpec, resolve_model
from ciagent.schemas import EpisodeSummary
from ciagent.testing import FakeModel


def test_json_schema_becomes_a_grammar_and_json_object_any_json() -> None:
    schema = EpisodeSummary.model_json_schema()
    grammar = grammar_for(
        {"type": "json_schema", "json_schema": {"name": "EpisodeSummary", "schema": schema}}
    )
    assert grammar is not None
    assert grammar.startswith("root ::=")
    assert '"\\"summary\\""' in grammar  # the schema's key, as a JSON string literal
    assert "char{1,1500}" in grammar  # and its length bound
    bare = grammar_for({"type": "json_object"})
    assert bare is not None
    assert "root" in bare
    assert bare != grammar
    assert grammar_for(None) is None
    assert grammar_for({"type": "text"}) is None


def test_a_fake_model_is_a_backend_answering_with_usage() -> None:
    fake = FakeModel(respond=lambda request: {"summary": f"seen {request.schema_name}"})
    assert isinstance(fake, Backend)
    request = ChatRequest(
        messages=({"role": "user", "content": "hello"},),
        tag=CallTag("summary"),
        response_schema=EpisodeSummary.model_json_schema(),
        max_tokens=50,
    )
    response = asyncio.run(fake.complete(request))
    assert json.loads(response.text) == {"summary": "seen EpisodeSummary"}
    assert response.prompt_tokens > 0
    assert response.model == fake.model_id
    assert fake.requests[0].messages == [{"role": "user", "content": "hello"}]


def test_the_hosted_backend_sends_a_schema_as_its_server_takes_it() -> None:
    schema = EpisodeSummary.model_json_schema()
    request = ChatRequest(
        messages=({"role": "user", "content": "hi"},),
        tag=CallTag("summary"),
        response_schema=schema,
        schema_name="EpisodeSummary",
        max_tokens=50,
        seed=7,
        timeout_s=30.0,
    )
    priced = {"context_window": 8192, "input_usd_per_mtok": 1.0, "output_usd_per_mtok": 1.0}
    openai_style = HostedBackend(ModelSpec(model_id="hosted_vllm/q", **priced))
    sent = openai_style._kwargs(request)
    assert sent["response_format"]["json_schema"] == {"name": "EpisodeSummary", "schema": schema}
    assert (sent["num_retries"], sent["seed"], sent["timeout"]) == (0, 7, 30.0)
    json_object = HostedBackend(
        ModelSpec(model_id="hosted_vllm/q", structured_output="json_object_schema", **priced)
    )
    wire = json_object._kwargs(request)["response_format"]
    assert wire["type"] == "json_object"
    assert "maxLength" not in json.dumps(wire["schema"])  # bounds its converter cannot build


def test_every_model_has_a_price() -> None:
    embedded = resolve_model("embedded/qwen2.5-coder-0.5b-instruct", 8192)
    assert embedded.input_usd_per_mtok == EMBEDDED_PRICING["input_usd_per_mtok"] > 0
    assert embedded.cost(1_000_000, 0) > 0
    hosted = resolve_model("gpt-4o-mini", 8192)  # from litellm's local cost map, no network
    assert hosted.input_usd_per_mtok > 0
    assert hosted.context_window > 8192
