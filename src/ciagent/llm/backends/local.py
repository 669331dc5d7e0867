"""The embedded llama.cpp model as a backend, called directly: no server, no litellm.

The loaded model is shared by every backend of the same options in the process
(`LocalLlama.get`); its engine decodes the requests in flight together. A generation stopped at
its time limit is a `ModelCallError`, not a transient one: the same request on the same cores
would run as long again.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from ciagent.errors import ModelCallError
from ciagent.llm.backend import CallTag, ChatRequest, ChatResponse
from ciagent.llm.embedded import EmbeddedOptions, LocalLlama
from ciagent.llm.generation import ContextOverflow, GenerationTimeout
from ciagent.llm.models import ModelSpec
from ciagent.llm.sampling import GrammarError
from ciagent.llm.usage import first_line

__all__ = ["EmbeddedBackend"]


class EmbeddedBackend:
    """`embedded/<name>`: a GGUF model from ciagent's pinned packages, run on this machine."""

    def __init__(
        self,
        spec: ModelSpec,
        models_dir: Path,
        *,
        threads: int | None = None,
        parallel: int = 4,
    ) -> None:
        self._spec = spec
        self.options = EmbeddedOptions(
            models_dir=models_dir,
            model=spec.model_id.partition("/")[2],
            n_ctx=spec.context_window,
            n_threads=threads,
            parallel=parallel,
        )

    @property
    def spec(self) -> ModelSpec:
        return self._spec

    async def probe(self) -> bool:
        """Whether the model loads and writes a token."""
        request = ChatRequest(
            messages=({"role": "user", "content": "Say yes."},), tag=CallTag("probe"), max_tokens=1
        )
        try:
            await self.complete(request)
        except ModelCallError:
            return False
        return True

    async def complete(self, request: ChatRequest) -> ChatResponse:
        started = time.perf_counter()
        llama = await asyncio.to_thread(LocalLlama.get, self.options)
        params: dict[str, Any] = {
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "seed": request.seed,
            "logprobs": bool(request.top_logprobs),
            "top_logprobs": request.top_logprobs,
        }
        if request.response_schema is not None:
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {"schema": request.response_schema},
            }
        model = self._spec.model_id
        try:
            wanted = await asyncio.to_thread(
                llama.request, list(request.messages), params, request.timeout_s
            )
            generation = await llama.generate(wanted)
        except (GenerationTimeout, ContextOverflow, GrammarError) as error:
            raise ModelCallError(model, first_line(error)) from error
        return ChatResponse(
            text=generation.text,
            model=model,
            finish_reason=generation.finish_reason,
            prompt_tokens=generation.prompt_tokens,
            completion_tokens=generation.completion_tokens,
            latency_s=time.perf_counter() - started,
            top_logprobs=generation.top_logprobs,
        )
