"""Continuous batching on one llama.cpp context: several generations decoded together.

One worker thread owns the context. At each step it decodes the generations in flight together
(`ciagent.llm.llama_step`), each in a KV stream of its own that starts from the longest prefix of
its prompt another stream holds (`ciagent.llm.kv_streams`).

Deadlines and cancellation are checked between steps: a generation past its deadline ends with
`GenerationTimeout`, a cancelled one with `GenerationCancelled`; either way its stream is freed
for the next request and the model stays usable.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future
from typing import Any

from ciagent.llm.generation import (
    ContextOverflow,
    Generation,
    GenerationCancelled,
    GenerationRequest,
    expired,
    fail,
)
from ciagent.llm.kv_streams import Streams
from ciagent.llm.llama_step import Decoder
from ciagent.llm.sampling import GrammarTemplates

__all__ = ["LlamaEngine"]


class LlamaEngine:
    """Generations on one loaded model, `parallel` at a time, each in a KV stream of its own."""

    def __init__(
        self,
        model: Any,
        *,
        context_per_sequence: int,
        parallel: int = 4,
        threads: int = 1,
        batch_tokens: int = 512,
    ) -> None:
        import llama_cpp
        from llama_cpp._utils import suppress_stdout_stderr

        self._llama = llama_cpp
        self._model = model  # a llama_cpp._internals.LlamaModel, kept alive with the context
        self.context_per_sequence = context_per_sequence
        self.parallel = max(1, parallel)
        self.batch_tokens = batch_tokens
        params = llama_cpp.llama_context_default_params()
        # One KV stream per sequence, each of `context_per_sequence` cells: a request's room never
        # depends on what the others hold, and a token attends over its own sequence's cells only.
        params.n_ctx = context_per_sequence * self.parallel
        params.n_batch = params.n_ubatch = batch_tokens
        params.n_seq_max = self.parallel
        params.n_threads = params.n_threads_batch = threads
        params.kv_unified = False
        params.no_perf = True
        with suppress_stdout_stderr(disable=False):  # llama.cpp describes the context at length
            self._ctx = llama_cpp.llama_init_from_model(model.model, params)
        if not self._ctx:
            raise RuntimeError("llama.cpp could not create a context for the embedded model")
        self.grammars = GrammarTemplates(model.vocab)
        memory = llama_cpp.llama_get_memory(self._ctx)
        self._streams = Streams(llama_cpp, memory, self.parallel, self.grammars)
        self._decoder = Decoder(llama_cpp, self._ctx, model.vocab, self._streams, batch_tokens)
        self.n_vocab = self._decoder.n_vocab
        self._waiting: deque[GenerationRequest] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._worker = threading.Thread(target=self._run, name="ciagent-llama", daemon=True)
        self._worker.start()

    # -- the caller's side -------------------------------------------------------------------

    def submit(self, request: GenerationRequest) -> Future[Generation]:
        """Queue a generation; its future completes with a `Generation` or one of the errors
        of `ciagent.llm.generation`."""
        need = len(request.prompt) + request.max_tokens
        if not request.prompt or need > self.context_per_sequence:
            request.future.set_exception(
                ContextOverflow(
                    f"Requested tokens ({need}) exceed context window of "
                    f"{self.context_per_sequence}"
                )
            )
            return request.future
        with self._cond:
            if self._closing:
                request.future.set_exception(GenerationCancelled("the embedded model is closed"))
                return request.future
            self._waiting.append(request)
            self._cond.notify()
        return request.future

    def in_flight(self) -> int:
        """Generations queued or running."""
        with self._cond:
            waiting = len(self._waiting)
        return waiting + sum(1 for slot in self._streams.slots if slot.request is not None)

    def close(self) -> None:
        """Stop the worker (what is queued or running ends with GenerationCancelled) and free
        the context."""
        with self._cond:
            if self._closing:
                return
            self._closing = True
            self._cond.notify()
        self._worker.join(timeout=30)
        if not self._worker.is_alive():
            self.grammars.close()
            from llama_cpp._utils import suppress_stdout_stderr

            self._decoder.close()
            with suppress_stdout_stderr(disable=False):
                self._llama.llama_free(self._ctx)

    # -- the worker --------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closing and not self._waiting and not self._streams.busy():
                    self._cond.wait()
                if self._closing:
                    break
            self._expire()
            self._admit()
            if self._streams.busy():
                try:
                    self._decoder.step()
                except Exception as error:  # a failed decode fails what was in it, not the engine
                    for slot in self._streams.slots:
                        if slot.request is not None:
                            self._decoder.finish(slot, error=error)
                        self._streams.forget(slot)
        closed = GenerationCancelled("the embedded model is closed")
        for slot in self._streams.slots:
            if slot.request is not None:
                self._decoder.finish(slot, error=closed)
        while self._waiting:
            fail(self._waiting.popleft(), closed)

    def _expire(self) -> None:
        now = time.monotonic()
        with self._cond:
            waiting = list(self._waiting)
        for request in waiting:
            error = expired(request, now)
            if error is not None:
                with self._cond:
                    self._waiting.remove(request)
                fail(request, error)
        for slot in self._streams.slots:
            if slot.request is not None:
                error = expired(slot.request, now)
                if error is not None:
                    self._decoder.finish(slot, error=error)

    def _admit(self) -> None:
        with self._cond:
            waiting = list(self._waiting)
        for request in waiting:
            if self._streams.full():
                return
            if self._streams.prefix_coming(request):
                continue
            with self._cond:
                self._waiting.remove(request)
            self._streams.place(request)
