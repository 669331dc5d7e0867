"""CPU-bound work off the event loop: `await off_loop(fn, *args)`.

The steps' own work (chunking, alignment, segmentation, retrieval, merging, the NLP pipeline)
runs in ciagent's worker thread, never on the loop thread. One thread: Python threads share
one interpreter lock, so a second CPU-bound thread would not finish the work sooner, and with
two the loop waited up to 90 ms for its turn (four episodes on 2 cores; one: 20-25 ms). The
caller's context (the run, episode and step of `ciagent.telemetry`, the current span) goes with
the work.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

__all__ = ["WORKERS", "off_loop", "start", "started"]

P = ParamSpec("P")
T = TypeVar("T")

WORKERS = 1
_pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="ciagent-cpu")
_started = threading.Event()
_lock = threading.Lock()


def started() -> bool:
    return _started.is_set()


def start() -> None:
    """Start the pool's threads now (`ciagent.warmup` does): a thread started on first use
    is started from the event loop, which waits until the new thread runs, and on a busy
    machine that is a long wait. Not from one of the pool's own threads."""
    with _lock:
        if _started.is_set():
            return
        ready = threading.Barrier(WORKERS + 1)
        for _ in range(WORKERS):
            _pool.submit(ready.wait)
        ready.wait()
        _started.set()


async def off_loop(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args, **kwargs)` in a worker thread, awaited."""
    loop = asyncio.get_running_loop()
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await loop.run_in_executor(_pool, call)
