"""The custom litellm providers and the embedded model's request translation (no model loaded)."""

from __future__ import annotations

import json

from ciagent.llm.embedded import grammar_for
from ciagent.llm.models import EMBEDDED_PRICING, resolve_model
from ciagent.llm.providers import litellm_module
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


def test_fake_provider_answers_through_litellm() -> None:
    litellm = litellm_module()
    fake = FakeModel(respond=lambda request: {"summary": f"seen {request.schema_name}"})
    response = litellm.completion(
        model=fake.model_id,
        messages=[{"role": "user", "content": "hello"}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "x", "schema": EpisodeSummary.model_json_schema()},
        },
    )
    assert json.loads(response.choices[0].message.content) == {"summary": "seen EpisodeSummary"}
    assert response.usage.prompt_tokens > 0
    assert fake.requests[0].messages == [{"role": "user", "content": "hello"}]


def test_every_model_has_a_price() -> None:
    embedded = resolve_model("embedded/qwen2.5-coder-0.5b-instruct", 8192)
    assert embedded.input_usd_per_mtok == EMBEDDED_PRICING["input_usd_per_mtok"] > 0
    assert embedded.cost(1_000_000, 0) > 0
    hosted = resolve_model("gpt-4o-mini", 8192)  # from litellm's local cost map, no network
    assert hosted.input_usd_per_mtok > 0
    assert hosted.context_window > 8192
