"""litellm set-up: offline cost map, quiet logs, no own retries, and ciagent's custom providers.

`embedded/<name>` runs the local GGUF model in-process; `fake/<name>` answers from a `FakeModel`.
Both are litellm custom providers, so every call, real or fake, takes the same path.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from ciagent.llm.embedded import EmbeddedOptions, LocalLlama
from ciagent.llm.fake import FakeRequest, fake_model, prompt_tokens
from ciagent.llm.generation import ContextOverflow, GenerationTimeout
from ciagent.llm.plain import choice_logprobs
from ciagent.llm.sampling import GrammarError
from ciagent.settings import Settings
from ciagent.tokens import token_counter

__all__ = ["EMBEDDED_OPTIONS_KEY", "litellm_module"]

EMBEDDED_OPTIONS_KEY = "ciagent_embedded"
_lock = threading.Lock()
_state: dict[str, Any] = {}


def litellm_module() -> Any:
    """Import and configure litellm once: local cost map, no telemetry, providers registered."""
    with _lock:
        if "litellm" in _state:
            return _state["litellm"]
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        os.environ.setdefault("LITELLM_LOG", "ERROR")
        import litellm

        # litellm offers these two only as globals: no usage sent anywhere, and no "Give Feedback"
        # banner printed to the host's stdout when a call fails (ciagent raises a typed error).
        # Retries are ciagent's, asked per call (`num_retries=0`); loggers are the host's (the
        # CLI, a process of ciagent's own, quiets litellm's).
        litellm.telemetry = False
        litellm.suppress_debug_info = True
        litellm.custom_provider_map = [
            *[p for p in litellm.custom_provider_map if p["provider"] not in ("embedded", "fake")],
            {"provider": "embedded", "custom_handler": _embedded_handler(litellm)},
            {"provider": "fake", "custom_handler": _fake_handler(litellm)},
        ]
        _state["litellm"] = litellm
        return litellm


def _fill(
    litellm: Any,
    response: Any,
    model: str,
    content: str,
    finish: str,
    prompt_tokens: int,
    completion_tokens: int,
    logprobs: dict[str, Any] | None = None,
) -> Any:
    response.choices[0].message.content = content
    response.choices[0].finish_reason = finish
    if logprobs is not None:
        from litellm.types.utils import ChoiceLogprobs

        response.choices[0].logprobs = ChoiceLogprobs(**logprobs)
    response.model = model
    response.created = int(time.time())
    response.usage = litellm.Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
    )
    return response


def _embedded_options(model: str, params: dict[str, Any]) -> EmbeddedOptions:
    """The model options a ModelClient sends in `extra_body`; settings' defaults otherwise."""
    extra = (params.get("extra_body") or {}).get(EMBEDDED_OPTIONS_KEY) or {}
    defaults = Settings()
    return EmbeddedOptions(
        models_dir=Path(extra.get("models_dir") or defaults.model_files_dir),
        model=model,
        n_ctx=int(extra.get("n_ctx") or defaults.embedded_context),
        n_threads=extra.get("n_threads"),
        parallel=int(extra.get("parallel") or defaults.embedded_parallel),
    )


def _embedded_error(litellm: Any, model: str, error: Exception) -> Exception:
    """An engine error as the litellm exception a caller expects of any provider."""
    name = f"embedded/{model}"
    kind: Any = None
    if isinstance(error, GenerationTimeout):
        kind = litellm.Timeout
    elif isinstance(error, ContextOverflow):
        kind = litellm.ContextWindowExceededError
    elif isinstance(error, GrammarError):
        kind = litellm.BadRequestError
    if kind is None:
        return error
    mapped: Exception = kind(message=str(error), model=name, llm_provider="embedded")
    return mapped


def _embedded_handler(litellm: Any) -> Any:
    class EmbeddedLLM(litellm.CustomLLM):  # type: ignore[misc]
        """litellm provider `embedded/`: llama.cpp in this process."""

        def _answer(self, model: str, result: dict[str, Any], response: Any) -> Any:
            choice = result["choices"][0]
            usage = result.get("usage") or {}
            return _fill(
                litellm,
                response,
                f"embedded/{model}",
                choice["message"].get("content") or "",
                choice.get("finish_reason") or "stop",
                int(usage.get("prompt_tokens", 0)),
                int(usage.get("completion_tokens", 0)),
                choice.get("logprobs"),
            )

        def completion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> Any:
            params = kwargs["optional_params"]
            llama = LocalLlama.get(_embedded_options(model, params))
            try:
                result = llama.chat(messages, params, kwargs.get("timeout"))
            except (GenerationTimeout, ContextOverflow, GrammarError) as error:
                raise _embedded_error(litellm, model, error) from error
            return self._answer(model, result, kwargs["model_response"])

        async def acompletion(
            self, model: str, messages: list[Any], *args: Any, **kwargs: Any
        ) -> Any:
            params = kwargs["optional_params"]
            llama = await asyncio.to_thread(LocalLlama.get, _embedded_options(model, params))
            try:
                result = await llama.achat(messages, params, kwargs.get("timeout"))
            except (GenerationTimeout, ContextOverflow, GrammarError) as error:
                raise _embedded_error(litellm, model, error) from error
            return self._answer(model, result, kwargs["model_response"])

    return EmbeddedLLM()


def _fake_handler(litellm: Any) -> Any:
    count = token_counter()

    class FakeLLM(litellm.CustomLLM):  # type: ignore[misc]
        """litellm provider `fake/`: answers from the FakeModel registered under the name."""

        def completion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> Any:
            fake = fake_model(model)
            if fake is None:
                raise litellm.BadRequestError(
                    message=f"no FakeModel named {model!r}", model=model, llm_provider="fake"
                )
            params = kwargs["optional_params"]
            response_format = params.get("response_format") or {}
            schema = (response_format.get("json_schema") or {}).get("schema")
            ranked = bool(params.get("logprobs"))
            content = fake.complete(FakeRequest(f"fake/{model}", list(messages), schema, ranked))
            logprobs = None
            if ranked:  # the answer maps first tokens to log-probabilities
                likely = sorted(json.loads(content).items(), key=lambda item: -item[1])
                logprobs = choice_logprobs([(token, float(p)) for token, p in likely])
                content = likely[0][0]
            return _fill(
                litellm,
                kwargs["model_response"],
                f"fake/{model}",
                content,
                "stop",
                prompt_tokens(list(messages), count),
                count(content),
                logprobs,
            )

        async def acompletion(
            self, model: str, messages: list[Any], *args: Any, **kwargs: Any
        ) -> Any:
            return self.completion(model, messages, *args, **kwargs)

    return FakeLLM()
