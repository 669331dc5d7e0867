"""Hosted APIs and OpenAI-compatible servers (`hosted_vllm/...`), through litellm.

One request is one `litellm.acompletion` call, with litellm's own retries off (`num_retries=0`:
retries are a layer of ciagent's) and the key read from its variable at the moment of the call,
passed to litellm only. A server that takes a response schema as vLLM's and llama.cpp's do
(`structured_output = "json_object_schema"`) gets it in that form. litellm's errors come back
typed: `TransientModelError` (with the wait the server asked for) or `ModelCallError`.
"""

from __future__ import annotations

import os
import time
from typing import Any

from ciagent.errors import ModelCallError
from ciagent.llm.backend import CallTag, ChatRequest, ChatResponse
from ciagent.llm.grammar import without_length_bounds
from ciagent.llm.models import ModelSpec
from ciagent.llm.providers import litellm_module
from ciagent.llm.retry import as_model_error

__all__ = ["HostedBackend"]


class HostedBackend:
    """A model litellm reaches: a hosted API or a server of the user's."""

    def __init__(self, spec: ModelSpec) -> None:
        self._spec = spec

    @property
    def spec(self) -> ModelSpec:
        return self._spec

    async def probe(self) -> bool:
        """Whether the model answers a one-token request."""
        request = ChatRequest(
            messages=({"role": "user", "content": "ping"},),
            tag=CallTag("probe"),
            max_tokens=1,
            timeout_s=30.0,
        )
        try:
            await self.complete(request)
        except ModelCallError:
            return False
        return True

    def _response_format(self, request: ChatRequest) -> dict[str, Any] | None:
        schema = request.response_schema
        if schema is None:
            return None
        if self._spec.structured_output == "json_object_schema":
            # Length bounds expand into grammars this server's converter cannot build; the
            # response model still checks them (and re-asks).
            return {"type": "json_object", "schema": without_length_bounds(schema)}
        return {
            "type": "json_schema",
            "json_schema": {"name": request.schema_name or "answer", "schema": schema},
        }

    def _kwargs(self, request: ChatRequest) -> dict[str, Any]:
        spec = self._spec
        kwargs: dict[str, Any] = {
            "model": spec.model_id,
            "messages": list(request.messages),
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "num_retries": 0,
        }
        optional = {
            "seed": request.seed,
            "timeout": request.timeout_s,
            "response_format": self._response_format(request),
            "api_base": spec.api_base,
        }
        kwargs.update({key: value for key, value in optional.items() if value is not None})
        if request.top_logprobs:
            kwargs.update(logprobs=True, top_logprobs=request.top_logprobs)
        if spec.api_key_env:
            # Read at the moment of the call, passed to litellm only: never cached or logged.
            kwargs["api_key"] = os.environ.get(spec.api_key_env, "")
        return kwargs

    async def complete(self, request: ChatRequest) -> ChatResponse:
        from openai import OpenAIError

        litellm = litellm_module()
        started = time.perf_counter()
        try:
            response = await litellm.acompletion(**self._kwargs(request))
        except (OpenAIError, TimeoutError, ConnectionError) as error:
            raise as_model_error(self._spec.model_id, error) from error
        return _read(response, self._spec.model_id, time.perf_counter() - started)


def _read(response: Any, model: str, latency: float) -> ChatResponse:
    choice = response.choices[0]
    usage = getattr(response, "usage", None)
    content = getattr(getattr(choice, "logprobs", None), "content", None) or []
    top = getattr(content[0], "top_logprobs", None) or [] if content else []
    return ChatResponse(
        text=str(choice.message.content or ""),
        model=model,
        finish_reason=str(choice.finish_reason or "stop"),
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        latency_s=latency,
        top_logprobs=tuple((str(t.token), float(t.logprob)) for t in top),
    )
