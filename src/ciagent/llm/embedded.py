"""The embedded model: llama.cpp in this process, one loaded model shared by every call.

No server, no key, no network. This module turns a chat request (a response schema enforced by
a llama.cpp grammar) into a generation on the model's batching engine
(`ciagent.llm.llama_engine`), which decodes the requests in flight together; the embedded
backend (`ciagent.llm.backends.local`) calls it directly.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, cast

from ciagent.errors import ModelAssetError
from ciagent.llm.assets import embedded_asset, ensure_model_file
from ciagent.llm.generation import Generation, GenerationRequest
from ciagent.llm.grammar import schema_to_gbnf
from ciagent.llm.llama_engine import LlamaEngine
from ciagent.llm.plain import choice_logprobs

__all__ = ["EmbeddedOptions", "LocalLlama", "available_cores", "grammar_for"]


@dataclass(frozen=True)
class EmbeddedOptions:
    models_dir: Path
    model: str = "qwen2.5-coder-0.5b-instruct"
    n_ctx: int = 8192
    n_threads: int | None = None
    parallel: int = 4


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@lru_cache(maxsize=64)
def _schema_grammar(schema_json: str) -> str:
    return schema_to_gbnf(json.loads(schema_json))


def grammar_for(response_format: Any) -> str | None:
    """The GBNF grammar for an OpenAI `response_format`: a JSON schema's shape and bounds, any
    JSON object for a bare `json_object`, none otherwise."""
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
    elif kind == "json_object":
        schema = response_format.get("schema")
    else:
        return None
    if not schema:
        from llama_cpp.llama_grammar import JSON_GBNF

        return str(JSON_GBNF)
    return _schema_grammar(json.dumps(schema))  # key order is the fields' order


def _quiet_llama_cpp() -> None:
    """llama.cpp's own log lines (context set-up, KV copies) go to stderr unless the
    `llama-cpp-python` logger's level says otherwise; when the host has not set one, keep them
    to errors, as `llama_cpp.Llama(verbose=False)` does."""
    import logging

    logger = logging.getLogger("llama-cpp-python")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.ERROR)


def _seconds(timeout: Any) -> float | None:
    """A call's time limit in seconds: a number, or an httpx.Timeout's read limit."""
    if isinstance(timeout, int | float):
        return float(timeout)
    read = getattr(timeout, "read", None)
    return float(read) if isinstance(read, int | float) else None


class LocalLlama:
    """One loaded GGUF model and its batching engine, shared by every call in the process."""

    _instances: ClassVar[dict[EmbeddedOptions, LocalLlama]] = {}
    _instances_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, options: EmbeddedOptions) -> None:
        try:
            import llama_cpp
            from llama_cpp._internals import LlamaModel
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError:
            raise ModelAssetError(
                "the embedded models need llama-cpp-python: pip install 'ciagent[local]'"
            ) from None
        path = ensure_model_file(options.models_dir, embedded_asset(options.model))
        self.options = options
        self.threads = options.n_threads or available_cores()
        llama_cpp.llama_backend_init()
        _quiet_llama_cpp()
        self._model = LlamaModel(
            path_model=str(path), params=llama_cpp.llama_model_default_params(), verbose=False
        )
        eos, bos = self._model.token_eos(), self._model.token_bos()
        self._format = Jinja2ChatFormatter(
            template=self._model.metadata()["tokenizer.chat_template"],
            eos_token=self._model.token_get_text(eos) if eos != -1 else "",
            bos_token=self._model.token_get_text(bos) if bos != -1 else "",
            stop_token_ids=[eos],
        )
        self.engine = LlamaEngine(
            self._model,
            context_per_sequence=options.n_ctx,
            parallel=options.parallel,
            threads=self.threads,
        )

    @classmethod
    def get(cls, options: EmbeddedOptions) -> LocalLlama:
        with cls._instances_lock:
            instance = cls._instances.get(options)
            if instance is None:
                instance = cls(options)
                cls._instances[options] = instance
            return instance

    @classmethod
    def close_all(cls) -> None:
        """Stop every loaded model's engine (at interpreter exit)."""
        with cls._instances_lock:
            instances = list(cls._instances.values())
            cls._instances.clear()
        for instance in instances:
            instance.engine.close()

    def count_tokens(self, text: str) -> int:
        return len(self._model.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def prompt_tokens(self, messages: list[dict[str, Any]]) -> list[int]:
        """The chat messages as the model reads them (its own chat template)."""
        formatted = self._format(messages=cast(Any, messages))
        tokens: list[int] = self._model.tokenize(
            formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True
        )
        return tokens

    def request(
        self, messages: list[dict[str, Any]], params: dict[str, Any], timeout: Any = None
    ) -> GenerationRequest:
        """A generation request for an OpenAI-style chat completion's messages and params."""
        prompt = self.prompt_tokens(messages)
        cap = params.get("max_tokens") or params.get("max_completion_tokens")
        limit = _seconds(timeout)
        return GenerationRequest(
            prompt=prompt,
            max_tokens=int(cap) if cap else max(1, self.options.n_ctx - len(prompt)),
            grammar=grammar_for(params.get("response_format")),
            temperature=float(params.get("temperature") or 0.0),
            top_p=float(params.get("top_p", 1.0)),
            seed=params.get("seed"),
            deadline=time.monotonic() + limit if limit else None,
            top_logprobs=int(params.get("top_logprobs") or 1) if params.get("logprobs") else 0,
        )

    def chat(
        self, messages: list[dict[str, Any]], params: dict[str, Any], timeout: Any = None
    ) -> dict[str, Any]:
        """A chat completion as an OpenAI-shaped dict (blocking)."""
        request = self.request(messages, params, timeout)
        future = self.engine.submit(request)
        try:
            return _answer(future.result())
        except BaseException:
            request.cancel()
            raise

    async def generate(self, request: GenerationRequest) -> Generation:
        """The generation for a request; cancelling the awaiting task stops it at the engine's
        next step."""
        future = self.engine.submit(request)
        try:
            return await asyncio.wrap_future(future)
        except BaseException:
            request.cancel()
            raise


def _answer(generation: Generation) -> dict[str, Any]:
    choice: dict[str, Any] = {
        "message": {"role": "assistant", "content": generation.text},
        "finish_reason": generation.finish_reason,
    }
    if generation.top_logprobs:
        choice["logprobs"] = choice_logprobs(generation.top_logprobs)
    return {
        "choices": [choice],
        "usage": {
            "prompt_tokens": generation.prompt_tokens,
            "completion_tokens": generation.completion_tokens,
            "total_tokens": generation.prompt_tokens + generation.completion_tokens,
        },
    }


atexit.register(LocalLlama.close_all)
