"""An OpenAI-compatible chat server on 127.0.0.1 that answers schema-valid JSON, with simulated
latency: a stand-in for a hosted API or a vLLM deployment in tests and benchmarks.

    python tools/fake_openai_server.py --port 8100 [--base-ms 0] [--per-prompt-token-ms 0]
        [--per-output-token-ms 0] [--concurrency 0]

Answers come from `ciagent.testing.default_answer` (notes read off the transcript lines in the
prompt). Latency = base + per prompt token + per output token; `--concurrency N` lets N requests
be served at once and queues the rest, like a saturated GPU server. `GET /stats`: requests, the
service seconds simulated, and the seconds with at least one request outstanding (`POST
/stats/reset` starts again); `GET /prompts`: every request's prompt.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import time
import uuid
from typing import Any

from aiohttp import web

from ciagent.llm.fake import prompt_tokens as fake_prompt_tokens
from ciagent.testing import FakeRequest, default_answer
from ciagent.tokens import token_counter

__all__ = ["build_app", "main"]


class _Load:
    """What the server did: requests, the service time it simulated, and how long at least one
    request was outstanding (the rest of the client's wall time is the client's own work)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.service_s = 0.0
        self.busy_s = 0.0
        self.in_flight = 0
        self.most_in_flight = 0
        self._busy_since = 0.0

    def arrive(self, service_s: float) -> None:
        if self.in_flight == 0:
            self._busy_since = time.perf_counter()
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        self.requests += 1
        self.service_s += service_s

    def leave(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self.busy_s += time.perf_counter() - self._busy_since

    def snapshot(self) -> dict[str, float]:
        busy = self.busy_s
        if self.in_flight:
            busy += time.perf_counter() - self._busy_since
        return {
            "requests": self.requests,
            "service_s": self.service_s,
            "busy_s": busy,
            "most_in_flight": self.most_in_flight,
        }


def build_app(
    base_ms: float = 0.0,
    per_prompt_token_ms: float = 0.0,
    per_output_token_ms: float = 0.0,
    concurrency: int = 0,
) -> web.Application:
    count = token_counter()
    slots = asyncio.Semaphore(concurrency) if concurrency > 0 else None
    seen_keys: set[str] = set()
    prompts: list[str] = []
    load = _Load()

    async def completions(request: web.Request) -> web.Response:
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if bearer:
            seen_keys.add(hashlib.sha256(bearer.encode()).hexdigest())
        body: dict[str, Any] = await request.json()
        messages = body.get("messages", [])
        response_format = body.get("response_format") or {}
        schema = (response_format.get("json_schema") or {}).get("schema")
        asked = FakeRequest(str(body.get("model")), messages, schema)
        prompts.append(asked.prompt)
        answer = default_answer(asked)
        content = json.dumps(answer)
        prompt_tokens = fake_prompt_tokens(messages, count)
        output_tokens = count(content)
        delay = (
            base_ms + per_prompt_token_ms * prompt_tokens + per_output_token_ms * output_tokens
        ) / 1000
        load.arrive(delay)
        try:
            if slots is not None:
                async with slots:
                    await asyncio.sleep(delay)
            elif delay:
                await asyncio.sleep(delay)
        finally:
            load.leave()
        return web.json_response(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": output_tokens,
                    "total_tokens": prompt_tokens + output_tokens,
                },
            }
        )

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def keys(request: web.Request) -> web.Response:
        """sha256 of the bearer keys seen (never the keys), for tests of key handling."""
        return web.json_response(sorted(seen_keys))

    async def stats(request: web.Request) -> web.Response:
        """Requests, simulated service seconds, and seconds with a request outstanding."""
        return web.json_response(load.snapshot())

    async def reset(request: web.Request) -> web.Response:
        load.reset()
        prompts.clear()
        return web.json_response({"ok": True})

    async def served(request: web.Request) -> web.Response:
        """The prompt of every request served, in order (tests check which episodes were asked)."""
        return web.json_response(prompts)

    async def models(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "fake", "object": "model"}]})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    app.router.add_get("/health", health)
    app.router.add_get("/seen-keys", keys)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/prompts", served)
    app.router.add_get("/stats", stats)
    app.router.add_post("/stats/reset", reset)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--base-ms", type=float, default=0.0)
    parser.add_argument("--per-prompt-token-ms", type=float, default=0.0)
    parser.add_argument("--per-output-token-ms", type=float, default=0.0)
    parser.add_argument("--concurrency", type=int, default=0)
    args = parser.parse_args()
    app = build_app(
        args.base_ms, args.per_prompt_token_ms, args.per_output_token_ms, args.concurrency
    )
    web.run_app(app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
