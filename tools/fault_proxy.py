"""A fault-injecting proxy for OpenAI-compatible servers, on 127.0.0.1.

    python tools/fault_proxy.py --port 8200 --upstream http://127.0.0.1:8100 --rate 0.2 [--seed 7]
        [--faults rate_limit,server_error,hang,truncated,invalid_json,drop] [--hang-s 30]

Each request, with probability `rate`, gets one fault drawn from `faults`:
- rate_limit: 429 with `Retry-After`;
- server_error: 500;
- hang: no answer for `hang-s` seconds (past the client's timeout), then a 504;
- truncated: the upstream's 200 answer cut in half (invalid JSON);
- invalid_json: a 200 answer whose message content does not match the requested schema;
- drop: the connection is closed with no answer.
Otherwise the request goes to the upstream unchanged. Counts are served at GET /stats.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
from collections import Counter

import aiohttp
from aiohttp import web

__all__ = ["FAULTS", "build_app", "main"]

FAULTS = ("rate_limit", "server_error", "hang", "truncated", "invalid_json", "drop")


def build_app(
    upstream: str, rate: float, faults: tuple[str, ...] = FAULTS, seed: int = 0, hang_s: float = 30
) -> web.Application:
    unknown = set(faults) - set(FAULTS)
    if unknown:
        raise ValueError(f"unknown faults: {sorted(unknown)}")
    rng = random.Random(seed)
    stats: Counter[str] = Counter()
    session: dict[str, aiohttp.ClientSession] = {}

    async def forward(request: web.Request, body: bytes) -> tuple[int, bytes, str]:
        client = session.setdefault("client", aiohttp.ClientSession())
        async with client.post(
            upstream.rstrip("/") + request.path,
            data=body,
            headers={"Content-Type": request.headers.get("Content-Type", "application/json")},
        ) as answer:
            return answer.status, await answer.read(), answer.content_type

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        fault = rng.choice(faults) if rng.random() < rate else None
        stats[fault or "passed"] += 1
        if fault == "rate_limit":
            return web.json_response(
                {"error": {"message": "rate limited", "type": "rate_limit"}},
                status=429,
                headers={"Retry-After": "0.05"},
            )
        if fault == "server_error":
            return web.json_response({"error": {"message": "injected 500"}}, status=500)
        if fault == "hang":
            await asyncio.sleep(hang_s)
            return web.json_response({"error": {"message": "injected hang"}}, status=504)
        if fault == "drop":
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)
        status, payload, content_type = await forward(request, body)
        if fault == "truncated" and status == 200:
            payload = payload[: len(payload) // 2]
        elif fault == "invalid_json" and status == 200:
            document = json.loads(payload)
            for choice in document.get("choices", []):
                choice["message"]["content"] = json.dumps({"unexpected": "shape"})
            payload = json.dumps(document).encode()
        return web.Response(status=status, body=payload, content_type=content_type)

    async def show_stats(request: web.Request) -> web.Response:
        return web.json_response(dict(stats))

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def close(app: web.Application) -> None:
        if "client" in session:
            await session["client"].close()

    app = web.Application()
    app.router.add_get("/stats", show_stats)
    app.router.add_get("/health", health)
    app.router.add_post("/{tail:.*}", handle)
    app.on_cleanup.append(close)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--rate", type=float, default=0.2)
    parser.add_argument("--faults", default=",".join(FAULTS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hang-s", type=float, default=30.0)
    args = parser.parse_args()
    faults = tuple(f for f in args.faults.split(",") if f)
    app = build_app(args.upstream, args.rate, faults, args.seed, args.hang_s)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
