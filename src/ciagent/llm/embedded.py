"""The embedded model: llama-cpp-python in this process, as the litellm provider `embedded/`.

No server, no key, no network. Calls take the same litellm path as any hosted model; this module
translates an OpenAI-style request (including `response_format` with a JSON schema, enforced here
by llama.cpp's grammar-constrained decoding) into a llama.cpp chat completion.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, cast

from ciagent.errors import ModelAssetError
from ciagent.llm.assets import embedded_asset, ensure_model_file
from ciagent.llm.grammar import schema_to_gbnf

__all__ = ["EmbeddedOptions", "LocalLlama", "decoding_constraint"]


@dataclass(frozen=True)
class EmbeddedOptions:
    models_dir: Path
    model: str = "qwen2.5-coder-0.5b-instruct"
    n_ctx: int = 8192
    n_threads: int | None = None


@lru_cache(maxsize=64)
def _grammar(schema_json: str) -> Any:
    from llama_cpp.llama_grammar import LlamaGrammar

    return LlamaGrammar.from_string(schema_to_gbnf(json.loads(schema_json)), verbose=False)


def decoding_constraint(response_format: Any) -> dict[str, Any]:
    """llama.cpp arguments for an OpenAI `response_format`: a JSON schema becomes a grammar
    (with its length bounds), a bare JSON object request llama.cpp's JSON mode."""
    if not isinstance(response_format, dict):
        return {}
    kind = response_format.get("type")
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
    elif kind == "json_object":
        schema = response_format.get("schema")
    else:
        return {}
    if not schema:
        return {"response_format": {"type": "json_object"}}
    return {"grammar": _grammar(json.dumps(schema))}


class LocalLlama:
    """One loaded GGUF model, serialised by a lock (llama.cpp contexts are not thread-safe)."""

    _instances: ClassVar[dict[EmbeddedOptions, LocalLlama]] = {}
    _instances_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, options: EmbeddedOptions) -> None:
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ModelAssetError(
                "the embedded models need llama-cpp-python: pip install 'ciagent[local]'"
            ) from None
        path = ensure_model_file(options.models_dir, embedded_asset(options.model))
        threads = options.n_threads or max(1, os.cpu_count() or 1)
        self.options = options
        self._lock = threading.Lock()
        self._llama = Llama(
            model_path=str(path), n_ctx=options.n_ctx, n_threads=threads, verbose=False
        )

    @classmethod
    def get(cls, options: EmbeddedOptions) -> LocalLlama:
        with cls._instances_lock:
            instance = cls._instances.get(options)
            if instance is None:
                instance = cls(options)
                cls._instances[options] = instance
            return instance

    def count_tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def chat(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        """A chat completion as an OpenAI-shaped dict."""
        kwargs: dict[str, Any] = {
            "messages": messages,
            "temperature": float(params.get("temperature", 0.0)),
            "max_tokens": params.get("max_tokens") or params.get("max_completion_tokens"),
            "seed": params.get("seed"),
        }
        if "top_p" in params:
            kwargs["top_p"] = float(params["top_p"])
        kwargs.update(decoding_constraint(params.get("response_format")))
        with self._lock:
            result = self._llama.create_chat_completion(**kwargs)
        return cast(dict[str, Any], result)

    async def achat(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        return await asyncio.to_thread(self.chat, messages, params)
