"""The NLP pipeline in processes of ciagent's own, so that it runs beside the event loop's
process instead of sharing its interpreter lock: `await pool.analyze(transcript)`.

spaCy reads about 7,000 words a second on one core, holding the lock for most of it: in a
thread, four episodes' pipelines ran one after another on one core, whatever the machine
had. Each process here (`python -m ciagent.nlp_worker`, not `multiprocessing`, so a script is
never imported again) loads the checked pipeline once and answers requests in turn; the pool
sends each to the process with the fewest waiting. `settings.nlp_processes` says how many (0:
in ciagent's worker thread instead). A process that dies fails the requests it held, with a
`ModelAssetError`, and the next request starts another; the processes end with this one (their
input closes).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import itertools
import json
import queue
import subprocess
import sys
import threading
from concurrent.futures import Future, InvalidStateError
from typing import IO, Any

from ciagent.errors import ModelAssetError
from ciagent.nlp import TextAnalysis, from_rows
from ciagent.offload import off_loop
from ciagent.types import Transcript

__all__ = ["NlpPool", "pool"]

_START_S = 120.0  # loading the pipeline takes 1-5 s; a stuck start is an error, not a hang


class _Worker:
    """One process, a thread that writes its requests (a long transcript fills the pipe while
    the process reads the one before: never on the event loop) and one that reads its answers."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ciagent.nlp_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.pending: dict[int, Future[dict[str, Any]]] = {}
        self.ready: Future[None] = Future()
        self._lock = threading.Lock()
        self._outbox: queue.SimpleQueue[tuple[int, list[str]] | None] = queue.SimpleQueue()
        threading.Thread(target=self._write, name="ciagent-nlp-writer", daemon=True).start()
        threading.Thread(target=self._read, name="ciagent-nlp-reader", daemon=True).start()

    @property
    def alive(self) -> bool:
        failed = self.ready.done() and self.ready.exception() is not None
        return self.process.poll() is None and not failed

    def send(self, number: int, texts: list[str]) -> Future[dict[str, Any]]:
        answer: Future[dict[str, Any]] = Future()
        with self._lock:
            self.pending[number] = answer
        self._outbox.put((number, texts))
        return answer

    def _write(self) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        while (item := self._outbox.get()) is not None:
            number, texts = item
            try:
                stdin.write(json.dumps({"id": number, "texts": texts}) + "\n")
                stdin.flush()
            except (OSError, ValueError) as exc:  # the process is gone, or closed
                self._settle(number, error=ModelAssetError(f"the NLP process is gone: {exc}"))
        with contextlib.suppress(OSError):
            stdin.close()

    def _settle(
        self, number: Any, message: dict[str, Any] | None = None, error: Exception | None = None
    ) -> None:
        with self._lock:
            answer = self.pending.pop(number, None)
        if answer is None:
            return
        with contextlib.suppress(InvalidStateError):  # cancelled meanwhile
            if error is not None:
                answer.set_exception(error)
            else:
                answer.set_result(message or {})

    def _read(self) -> None:
        out: IO[str] | None = self.process.stdout
        assert out is not None
        for line in out:
            message = json.loads(line)
            if "id" in message:
                self._settle(message["id"], message)
            elif "error" in message:
                self.ready.set_exception(ModelAssetError(str(message["error"])))
            else:
                self.ready.set_result(None)
        out.close()
        code = self.process.wait()
        gone = ModelAssetError(f"the NLP process exited (code {code}) before it answered")
        if not self.ready.done():
            self.ready.set_exception(gone)
        with self._lock:
            held = list(self.pending)
        for number in held:
            self._settle(number, error=gone)

    def close(self) -> None:
        """Close its input (the process ends when it has answered what it holds)."""
        self._outbox.put(None)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class NlpPool:
    """`size` NLP processes, started on first use (or by `start`)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._workers: list[_Worker] = []
        self._numbers = itertools.count()
        self._lock = threading.Lock()

    def _live(self) -> list[_Worker]:
        with self._lock:
            kept = [w for w in self._workers if w.alive]
            for gone in set(self._workers) - set(kept):
                gone.close()
            while len(kept) < self.size:
                kept.append(_Worker())
            self._workers = kept
            return list(kept)

    def start(self) -> None:
        """Start the processes and wait until each has loaded the pipeline (a ModelAssetError
        when it cannot)."""
        for worker in self._live():
            worker.ready.result(timeout=_START_S)

    def submit(self, texts: list[str]) -> Future[dict[str, Any]]:
        """The rows of `texts` (`ciagent.nlp.rows`, as JSON), from the least busy process."""
        worker = min(self._live(), key=lambda w: len(w.pending))
        return worker.send(next(self._numbers), texts)

    async def analyze(self, transcript: Transcript) -> TextAnalysis:
        """`ciagent.nlp.analyze(transcript)`, read in one of the pool's processes."""
        segments = transcript.segments
        answer = await asyncio.wrap_future(self.submit([s.text for s in segments]))
        if "error" in answer:
            raise ModelAssetError(
                f"the NLP process could not read the transcript: {answer['error']}"
            )
        ids = [s.id for s in segments]
        return await off_loop(from_rows, ids, answer["names"], answer["phrases"])

    def close(self) -> None:
        with self._lock:
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.close()


_pools: dict[int, NlpPool] = {}
_pools_lock = threading.Lock()


def pool(size: int) -> NlpPool:
    """The process's pool of `size` NLP processes (one per size, closed at exit)."""
    with _pools_lock:
        if size not in _pools:
            _pools[size] = NlpPool(size)
        return _pools[size]


@atexit.register
def _close_all() -> None:
    for each in list(_pools.values()):
        each.close()
