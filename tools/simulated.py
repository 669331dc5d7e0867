"""The latency-simulating server (tools/fake_openai_server.py) as the benchmarks use it: started on
127.0.0.1 in a subprocess, and settings whose one deployment is that server."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ciagent import Settings
from ciagent.routing.registry import Deployment, TokenPrice

__all__ = ["ROOT", "Latency", "served", "settings_for", "stats"]

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Latency:
    """The simulated model: ms per request, per prompt token, per output token; slots."""

    base_ms: float = 0.0
    per_prompt_token_ms: float = 0.0
    per_output_token_ms: float = 0.0
    slots: int = 0

    def describe(self) -> str:
        if not (self.base_ms or self.per_prompt_token_ms or self.per_output_token_ms):
            return "no latency, no concurrency limit"
        return (
            f"{self.base_ms:g} ms + {self.per_prompt_token_ms:g} ms/prompt token + "
            f"{self.per_output_token_ms:g} ms/output token, {self.slots} requests at once"
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served(latency: Latency) -> Iterator[str]:
    """The server's base URL, for as long as the block runs."""
    port = _free_port()
    command = [
        sys.executable,
        str(ROOT / "tools" / "fake_openai_server.py"),
        "--port",
        str(port),
        "--base-ms",
        str(latency.base_ms),
        "--per-prompt-token-ms",
        str(latency.per_prompt_token_ms),
        "--per-output-token-ms",
        str(latency.per_output_token_ms),
        "--concurrency",
        str(latency.slots),
    ]
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"server exited: {log.read().decode()[-2000:]}")
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the simulated server did not start in 60 s")
                time.sleep(0.2)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=10)


def settings_for(base: str, **overrides: Any) -> Settings:
    """Every step on the simulated server (priced like a small hosted model)."""
    deployment = Deployment(
        name="sim",
        model="hosted_vllm/fake",
        api_base=f"{base}/v1",
        context_window=32768,
        price=TokenPrice(input_usd_per_mtok=0.2, output_usd_per_mtok=0.8),
    )
    values: dict[str, Any] = {"model": "sim", "deployments": (deployment,), "cache": False}
    values.update(overrides)
    return Settings(**values)


def stats(base: str, reset: bool = False) -> dict[str, float]:
    """The server's counters (requests, service_s, busy_s); `reset` zeroes them after."""
    found: dict[str, float] = httpx.get(f"{base}/stats").json()
    if reset:
        httpx.post(f"{base}/stats/reset")
    return found
