"""Answers read from a backend's responses: JSON that validates against a response model,
re-asked with the validation errors shown to the model, a bounded number of times (instructor's
JSON-schema request, parsing and re-ask handlers), or prose and one-token choices read as they
come (`ciagent.llm.plain`).

The loop is ciagent's own, over instructor's handlers: what a backend raises (a budget refusal,
a transient or a permanent failure) comes up as it was raised, never wrapped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ciagent.errors import StructuredOutputError
from ciagent.llm.backend import Backend, ChatRequest, ChatResponse
from ciagent.llm.plain import Prose, Ranked, choice_logprobs
from ciagent.llm.usage import first_line

__all__ = ["Answered", "Structured"]

T = TypeVar("T", bound=BaseModel)
P = TypeVar("P", Prose, Ranked)
Invalid = Callable[[ChatResponse, BaseException], None]


class Answered(BaseModel):
    """The tokens every attempt of one call read and wrote, as the backend counted them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, response: ChatResponse) -> None:
        self.prompt_tokens += response.prompt_tokens
        self.completion_tokens += response.completion_tokens


class Structured:
    """Validated answers from one backend. `on_invalid(response, error)` hears of each answer
    that did not validate (the meter marks its record)."""

    def __init__(self, backend: Backend, max_reasks: int, on_invalid: Invalid | None = None):
        self.backend = backend
        self.max_reasks = max_reasks
        self.on_invalid = on_invalid

    def _invalid(self, response: ChatResponse, error: BaseException) -> None:
        if self.on_invalid is not None:
            self.on_invalid(response, error)

    async def parse(self, request: ChatRequest, response_model: type[T]) -> tuple[T, Answered]:
        """A `response_model` read from the answer to `request`, asked again with the errors
        shown while it does not validate (`max_reasks` times at most)."""
        from instructor.core.exceptions import IncompleteOutputException

        handlers = _handlers()
        model, kwargs = handlers.request_handler(
            response_model=_prepared(response_model), kwargs={"messages": list(request.messages)}
        )
        schema = kwargs["response_format"]["json_schema"]
        used = Answered()
        last: BaseException | None = None
        for attempt in range(1, self.max_reasks + 2):
            asked = request.model_copy(
                update={
                    "messages": tuple(kwargs["messages"]),
                    "response_schema": schema["schema"],
                    "schema_name": schema["name"],
                }
            )
            response = await self.backend.complete(asked)
            used.add(response)
            completion = as_completion(response)
            try:
                value: T = handlers.response_parser(
                    response=completion,
                    response_model=model,
                    validation_context=None,
                    strict=True,
                    stream=False,
                    is_async=True,
                )
            except IncompleteOutputException as cut:
                self._invalid(response, cut)
                model_id = self.backend.spec.model_id
                raise StructuredOutputError(
                    model_id, "output cut off at max_output_tokens", attempts=attempt
                ) from None
            except _PARSE_ERRORS as error:
                self._invalid(response, error)
                last = error
                kwargs = handlers.reask_handler(kwargs=kwargs, response=completion, exception=error)
                continue
            return value, used
        assert last is not None
        raise StructuredOutputError(
            self.backend.spec.model_id,
            f"invalid output: {first_line(last)}",
            attempts=self.max_reasks + 1,
        )

    async def plain(self, request: ChatRequest, kind: type[P]) -> tuple[P, Answered]:
        """An answer without a schema, read as `kind` (prose, or a ranked first token); an
        answer it cannot be read from is invalid output (no re-asks)."""
        response = await self.backend.complete(request)
        used = Answered()
        used.add(response)
        answer = kind.read(as_completion(response))
        if answer is None:
            error = StructuredOutputError(self.backend.spec.model_id, kind.missing, attempts=1)
            self._invalid(response, error)
            raise error
        return answer, used


_PARSE_ERRORS: tuple[type[BaseException], ...] = (ValidationError, json.JSONDecodeError)


def as_completion(response: ChatResponse) -> Any:
    """A response as an OpenAI chat completion, the shape instructor's handlers read."""
    from openai.types.chat import ChatCompletion

    choice: dict[str, Any] = {
        "index": 0,
        "finish_reason": response.finish_reason,
        "message": {"role": "assistant", "content": response.text},
    }
    if response.top_logprobs:
        choice["logprobs"] = choice_logprobs(list(response.top_logprobs))
    return ChatCompletion.model_construct(
        id="ciagent",
        object="chat.completion",
        created=0,
        model=response.model,
        choices=[_choice(choice)],
        usage=None,
    )


def _choice(fields: dict[str, Any]) -> Any:
    from openai.types.chat.chat_completion import Choice, ChoiceLogprobs
    from openai.types.chat.chat_completion_message import ChatCompletionMessage

    logprobs = fields.get("logprobs")
    return Choice.model_construct(
        index=0,
        finish_reason=fields["finish_reason"],
        message=ChatCompletionMessage.model_construct(**fields["message"]),
        logprobs=ChoiceLogprobs.model_validate(logprobs) if logprobs else None,
    )


@cache
def _handlers() -> Any:
    """instructor's handlers for JSON-schema answers (request, parse, re-ask)."""
    import instructor
    from instructor.v2.core.providers import Provider
    from instructor.v2.core.registry import mode_registry

    return mode_registry.get_handlers(Provider.OPENAI, instructor.Mode.JSON_SCHEMA)


@cache
def _prepared(response_model: type[Any]) -> type[Any]:
    """The response model as instructor wraps it for a request, built once per model."""
    from instructor.v2.core.function_calls import response_schema

    return response_schema(response_model)
