"""Local servers for integration tests: started on 127.0.0.1, waited for, stopped afterwards."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _tail(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-2000:]


def _wait_ready(process: subprocess.Popen[bytes], url: str, ready_s: float, log: IO[bytes]) -> None:
    deadline = time.monotonic() + ready_s
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {_tail(log)}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"no answer from {url} in {ready_s} s: {_tail(log)}")
        time.sleep(0.2)


@contextmanager
def serve(command: list[str], health: str, ready_s: float = 60.0) -> Iterator[str]:
    """Run `command` (its port given as {port}) and yield its base URL once `health` answers."""
    port = free_port()
    args = [part.replace("{port}", str(port)) for part in command]
    base = f"http://127.0.0.1:{port}"
    # Server logs go to a file: a pipe nobody reads fills up and blocks the server.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_ready(process, base + health, ready_s, log)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def fault_proxy(upstream: str, rate: float, *options: str) -> Iterator[str]:
    """tools/fault_proxy.py in front of `upstream`, injecting faults at `rate`."""
    command = ["tools/fault_proxy.py", "--port", "{port}", "--upstream", upstream]
    with serve([*command, "--rate", str(rate), *options], "/health") as base:
        yield base
