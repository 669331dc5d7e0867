"""Deterministic fake models for tests of orchestration: backends passed in as objects.

`FakeModel()` answers every structured call with schema-valid JSON drawn from the prompt itself
(a prose call with the first transcript line it is given, a one-letter choice with "A" a little
likelier than "B"):
for chunk notes it reads the numbered transcript lines and returns capitalised names as entities
with the lines they are on, so the whole graph (merge, summary, verification) runs for real.
`FakeModel(respond=fn)` lets a test script the answers (a dict, a JSON string, or an exception).
Pass the object itself: `Settings(model=FakeModel())` or `ciagent.enrich(path, model=fake)`; its
calls take the same layers (cache, budget, retries, re-asks, usage) as a real model's.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ciagent.llm.backend import ChatRequest, ChatResponse
from ciagent.llm.models import ModelSpec
from ciagent.tokens import token_counter

__all__ = ["FakeModel", "FakeRequest", "prompt_tokens"]

_LINE = re.compile(r"^\[(\d+)\]\s+(?:([^:\n]{1,40}):\s+)?(.*)$", re.MULTILINE)
_NAME = re.compile(r"\b[A-Z][a-z]+(?:\s+(?:of\s+)?[A-Z][a-z]+)+\b")
_WORD = re.compile(r"[A-Za-z]{5,}")
_REASK = "Correct your JSON"  # how instructor's re-ask message starts
_counter = itertools.count(1)
_SERVER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ciagent-fake-model")


@dataclass(frozen=True)
class FakeRequest:
    """What a fake model was asked: the model id, the messages and the response JSON schema."""

    model: str
    messages: list[dict[str, Any]]
    schema: dict[str, Any] | None
    ranked: bool = False  # a one-token answer asked with its likeliest tokens' log-probabilities

    @property
    def schema_name(self) -> str | None:
        return str(self.schema.get("title")) if self.schema else None

    @property
    def prompt(self) -> str:
        """The request itself: the last user message that is not a re-ask (a re-ask repeats
        the conversation and adds the validation errors as a new user message)."""
        users = [
            str(m.get("content", ""))
            for m in self.messages
            if m.get("role") == "user" and not str(m.get("content", "")).startswith(_REASK)
        ]
        return users[-1] if users else ""


Responder = Callable[[FakeRequest], dict[str, Any] | str]


@dataclass(eq=False)
class FakeModel:
    """A scripted, deterministic model: a `Backend`. Price is explicit (default 0) so costs
    stay visible; `parameters_b` (None: unknown) is the size it says it has."""

    respond: Responder | None = None
    # A letter after the dash: a random part like "-3b07..." would read as a 3B model's size
    # (`ciagent.llm.reading`), and a fake would be taken for a small model now and then.
    name: str = field(default_factory=lambda: f"model{next(_counter)}-h{uuid.uuid4().hex[:8]}")
    input_usd_per_mtok: float = 0.0
    output_usd_per_mtok: float = 0.0
    context_window: int = 32768
    parameters_b: float | None = None
    latency_s: float = 0.0  # how long each call takes, as a model elsewhere would
    requests: list[FakeRequest] = field(default_factory=list)

    @property
    def model_id(self) -> str:
        return f"fake/{self.name}"

    @property
    def spec(self) -> ModelSpec:
        return ModelSpec(
            model_id=self.model_id,
            context_window=self.context_window,
            input_usd_per_mtok=self.input_usd_per_mtok,
            output_usd_per_mtok=self.output_usd_per_mtok,
            parameters_b=self.parameters_b,
        )

    async def probe(self) -> bool:
        return True

    def answer(self, request: FakeRequest) -> str:
        """The answer text for a request (raises whatever the responder raises)."""
        self.requests.append(request)
        return self._reply(request)

    def _reply(self, request: FakeRequest) -> str:
        answer = (self.respond or default_answer)(request)
        return answer if isinstance(answer, str) else json.dumps(answer)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        messages = list(request.messages)
        ranked = request.top_logprobs > 0
        asked = FakeRequest(self.model_id, messages, request.response_schema, ranked)
        self.requests.append(asked)
        if not self.latency_s:  # answered at once, as the call is made
            return self._completed(asked, messages, ranked)
        # A model elsewhere: the call takes its time, and reading the prompt and counting its
        # tokens is the model's work, not its caller's: off the event loop, one request at a
        # time in the order asked (a test's responder needs no lock).
        await asyncio.sleep(self.latency_s)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_SERVER, self._completed, asked, messages, ranked)

    def _completed(
        self, asked: FakeRequest, messages: list[dict[str, Any]], ranked: bool
    ) -> ChatResponse:
        content = self._reply(asked)
        likeliest: tuple[tuple[str, float], ...] = ()
        if ranked:  # the answer maps first tokens to log-probabilities
            found = sorted(json.loads(content).items(), key=lambda item: -item[1])
            likeliest = tuple((token, float(p)) for token, p in found)
            content = likeliest[0][0]
        count = token_counter()
        return ChatResponse(
            text=content,
            model=self.model_id,
            prompt_tokens=prompt_tokens(messages, count),
            completion_tokens=count(content),
            top_logprobs=likeliest,
        )


def prompt_tokens(messages: list[dict[str, Any]], count: Callable[[str], int]) -> int:
    """The prompt tokens a fake model reports: each message's content plus a little framing."""
    return sum(count(str(m.get("content", ""))) + 4 for m in messages)


def default_answer(request: FakeRequest) -> dict[str, Any] | str:
    """A plausible answer for the built-in schemas, read off the prompt."""
    if request.schema_name == "ChunkNotes":
        notes = _chunk_notes(request.prompt)
        if "summary" in (request.schema or {}).get("properties", {}):  # summary in the notes
            notes["summary"] = _first_line(request.prompt)
        return notes
    if request.schema_name == "ClaimJudgement":
        return _judgement(request.prompt)
    if request.schema_name == "ClaimJudgements":
        return _judgements(request.prompt)
    if request.schema_name == "ChapterTitles":
        return _chapter_titles(request.prompt)
    if request.ranked:  # a one-letter choice: "A" a little likelier wherever it stands
        return {"A": -0.4, "B": -1.1}
    if request.schema is None:  # prose: the chunk's first line, as a summary
        return _first_line(request.prompt)
    if request.schema_name == "EpisodeSummary":
        lines = [line for line in request.prompt.splitlines() if line.startswith("Part ")]
        text = " ".join(line.split(": ", 1)[-1] for line in lines)
        return {"summary": text[:1000] or "An episode."}
    value = _from_schema(request.schema or {"type": "object"}, request.schema or {})
    return value if isinstance(value, dict) else {"value": value}


def _first_line(prompt: str) -> str:
    """The first numbered transcript line's text (quoted or not), as a summary."""
    quoted = "\n".join(line.strip('"') for line in prompt.splitlines())
    lines = [m.group(3) for m in _LINE.finditer(quoted)]
    return lines[0][:200] if lines else "Nothing is said."


def _chunk_notes(prompt: str) -> dict[str, Any]:
    lines = [(int(m.group(1)), m.group(3)) for m in _LINE.finditer(prompt)]
    entities: dict[str, list[dict[str, Any]]] = {}
    for segment_id, text in lines:
        for match in _NAME.finditer(text):
            entities.setdefault(match.group(0)[:60], []).append(
                {"segment_id": segment_id, "text": match.group(0)[:60]}
            )
    words = Counter(w.lower() for _, text in lines for w in _WORD.findall(text))
    longest = max(lines, key=lambda item: len(item[1]), default=None)
    return {
        "topics": [word for word, _ in words.most_common(3)] or ["conversation"],
        "entities": [
            {"name": name, "type": "other", "mentions": mentions[:3]}
            for name, mentions in list(entities.items())[:10]
        ],
        "quotes": [{"segment_id": longest[0], "text": longest[1][:300]}] if longest else [],
    }


_CHAPTER = re.compile(r"^Chapter (\d+)\. Key words: (.*)\.$", re.MULTILINE)


def _chapter_titles(prompt: str) -> dict[str, Any]:
    """Each chapter titled with its first two key words."""
    chapters = []
    for number, words in _CHAPTER.findall(prompt):
        title = " and ".join(w.strip() for w in words.split(",")[:2]).capitalize()
        chapters.append({"number": int(number), "title": title or "Chapter", "summary": ""})
    return {"chapters": chapters}


def _judgement(prompt: str) -> dict[str, Any]:
    """Supported when most of the claim's longer words are on the evidence lines (cited)."""
    evidence, _, claim = prompt.rpartition("Claim:")
    wanted = {w.lower() for w in _WORD.findall(claim)}
    lines = [(int(m.group(1)), m.group(3).lower()) for m in _LINE.finditer(evidence)]
    cited = [n for n, text in lines if any(w in text for w in wanted)][:4]
    present = {w for w in wanted if any(w in text for _, text in lines)}
    supported = bool(wanted) and 2 * len(present) >= len(wanted)
    return {"lines": cited, "verdict": "supported" if supported else "not_found"}


_CLAIM = re.compile(r"^\((\d+)\) (.*)$", re.MULTILINE)


def _judgements(prompt: str) -> dict[str, Any]:
    """Each numbered claim judged as `_judgement` judges one, on all the evidence lines."""
    head, _, claims = prompt.rpartition("Claims:")
    evidence = head.rpartition("Transcript lines:")[2]
    return {
        "judgements": [
            {"claim": int(number), **_judgement(f"{evidence}Claim: {text}")}
            for number, text in _CLAIM.findall(claims)
        ]
    }


def _from_schema(schema: dict[str, Any], root: dict[str, Any]) -> Any:
    """The smallest value valid for a JSON schema (objects, arrays, enums, scalars, $ref)."""
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return _from_schema(root.get("$defs", {}).get(name, {}), root)
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        return _from_schema(schema["anyOf"][0], root)
    kind = schema.get("type")
    if kind == "object":
        properties: dict[str, Any] = schema.get("properties", {})
        return {key: _from_schema(value, root) for key, value in properties.items()}
    if kind == "array":
        minimum = int(schema.get("minItems", 0))
        return [_from_schema(schema.get("items", {}), root) for _ in range(minimum)]
    return {"string": "a", "integer": 0, "number": 0.0, "boolean": False}.get(str(kind))
