"""Continuous batching on one llama.cpp context: several generations decoded together.

One worker thread owns the context. At each step it decodes, in a single `llama_decode`, the next
token of every generation in flight (with its draft, `ciagent.llm.drafting`) and a slice of the
prompts still being read, then chooses each generation's next tokens (`ciagent.llm.sampling`).
A step costs a fixed part (every weight of the model is read once) and a part per token in it,
so sequences decoded together cost much less than a step each.

Each sequence has a KV stream of its own. Prompts share their beginning (instructions, schema,
worked example): a new generation starts from the longest prefix of its prompt that any stream
holds, running or finished, and reads only the rest. A finished sequence's cells stay until its
stream serves another request.

Deadlines and cancellation are checked between steps: a generation past its deadline ends with
`GenerationTimeout`, a cancelled one with `GenerationCancelled`; either way its stream is freed
for the next request and the model stays usable.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ciagent.llm.drafting import Acceptance, PromptLookup, StepCost
from ciagent.llm.generation import (
    ContextOverflow,
    Generation,
    GenerationCancelled,
    GenerationRequest,
    GenerationTimeout,
)
from ciagent.llm.sampling import Candidates, GrammarTemplates, TokenChooser

__all__ = ["LlamaEngine"]


@dataclass(eq=False)
class _Slot:
    seq_id: int
    tokens: list[int] = field(default_factory=list)  # held in the KV cache, positions 0..n-1
    request: GenerationRequest | None = None
    pending: list[int] = field(default_factory=list)  # to decode next
    output: list[int] = field(default_factory=list)
    chooser: TokenChooser | None = None
    lookup: PromptLookup | None = None
    acceptance: Acceptance = field(default_factory=Acceptance)
    drafted: int = 0
    accepted: int = 0
    cached: int = 0
    last_used: float = 0.0
    admitted: float = 0.0
    first_token: float = 0.0
    top: tuple[tuple[str, float], ...] = ()  # the first position's likeliest tokens

    @property
    def reading(self) -> bool:
        return self.request is not None and len(self.pending) > 0 and not self.output


# Most draft tokens decoded beside a sequence's own in one step.
_LONGEST_DRAFT = 8
# Prompt tokens read per step: a step is where a cancel or a deadline is noticed, and 512 prompt
# tokens take 3-7 s on 2 slow cores; 128 keep that near a second at little cost to prefill speed.
_READ_PER_STEP = 128
# Tokens of prefix another sequence must hold beyond a slot's own before its stream is copied.
_WORTH_COPYING = 64


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    if n == 0:
        return 0
    left, right = np.asarray(a[:n]), np.asarray(b[:n])
    differ = np.flatnonzero(left != right)
    return int(differ[0]) if differ.size else n


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
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._vocab = model.vocab
        self.n_vocab = int(llama_cpp.llama_vocab_n_tokens(self._vocab))
        self._batch = llama_cpp.llama_batch_init(batch_tokens, 0, 1)
        self._candidates = Candidates(self.n_vocab)
        self.grammars = GrammarTemplates(self._vocab)
        self._slots = [_Slot(seq_id=i) for i in range(self.parallel)]
        self._waiting: deque[GenerationRequest] = deque()
        self._cost = StepCost()
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
        return waiting + sum(1 for slot in self._slots if slot.request is not None)

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

            self._llama.llama_batch_free(self._batch)
            with suppress_stdout_stderr(disable=False):
                self._llama.llama_free(self._ctx)

    # -- the worker --------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closing and not self._waiting and not self._busy():
                    self._cond.wait()
                if self._closing:
                    break
            self._expire()
            self._admit()
            if self._busy():
                try:
                    self._step()
                except Exception as error:  # a failed decode fails what was in it, not the engine
                    for slot in self._slots:
                        if slot.request is not None:
                            self._finish(slot, error=error)
                        self._forget(slot)
        closed = GenerationCancelled("the embedded model is closed")
        for slot in self._slots:
            if slot.request is not None:
                self._finish(slot, error=closed)
        while self._waiting:
            _fail(self._waiting.popleft(), closed)

    def _busy(self) -> bool:
        return any(slot.request is not None for slot in self._slots)

    def _expire(self) -> None:
        now = time.monotonic()
        with self._cond:
            waiting = list(self._waiting)
        for request in waiting:
            error = _expired(request, now)
            if error is not None:
                with self._cond:
                    self._waiting.remove(request)
                _fail(request, error)
        for slot in self._slots:
            if slot.request is not None:
                error = _expired(slot.request, now)
                if error is not None:
                    self._finish(slot, error=error)

    def _admit(self) -> None:
        with self._cond:
            waiting = list(self._waiting)
        for request in waiting:
            if all(slot.request is not None for slot in self._slots):
                return
            if self._prefix_coming(request):
                continue
            with self._cond:
                self._waiting.remove(request)
            self._place(request)

    def _prefix_coming(self, request: GenerationRequest) -> bool:
        """Whether a sequence now reading its prompt will soon hold a longer prefix of this
        prompt than any sequence holds now: then the request waits a step or two and copies
        it, rather than reading the shared instructions again."""
        prompt = request.prompt
        held = max(self._prefixes(prompt).values())
        limit = len(prompt) - 1
        for slot in self._slots:
            if slot.request is not None and slot.reading:
                coming = min(_common_prefix(slot.request.prompt, prompt), limit)
                if coming > held + _WORTH_COPYING:
                    return True
        return False

    def _prefixes(self, prompt: list[int]) -> dict[_Slot, int]:
        """How much of `prompt` each stream holds and can give: at most all but its last token,
        which is read again for its logits."""
        limit = len(prompt) - 1
        return {slot: min(_common_prefix(slot.tokens, prompt), limit) for slot in self._slots}

    def _forget(self, slot: _Slot) -> None:
        self._llama.llama_memory_seq_rm(self._memory, slot.seq_id, -1, -1)
        slot.tokens, slot.pending, slot.output = [], [], []

    def _place(self, request: GenerationRequest) -> None:
        prompt = request.prompt
        held = self._prefixes(prompt)
        idle = [s for s in self._slots if s.request is None]
        target = max(idle, key=lambda s: (held[s], -s.last_used))
        source = max(self._slots, key=lambda s: held[s])
        if held[source] <= held[target] + _WORTH_COPYING:
            source = target
        shared = held[source]
        memory = self._memory
        if source is not target:
            # Another sequence holds a longer prefix: copy its stream whole (llama.cpp copies
            # between streams only whole), then cut it back to the shared prefix.
            self._llama.llama_memory_seq_rm(memory, target.seq_id, -1, -1)
            self._llama.llama_memory_seq_cp(memory, source.seq_id, target.seq_id, -1, -1)
        self._llama.llama_memory_seq_rm(memory, target.seq_id, shared, -1)
        target.tokens = list(prompt[:shared])
        target.pending = list(prompt[shared:])
        target.output = []
        target.cached = shared
        target.admitted = target.first_token = time.monotonic()
        target.request = request
        grammar = self.grammars.clone(request.grammar) if request.grammar else None
        target.chooser = TokenChooser(
            grammar, temperature=request.temperature, top_p=request.top_p, seed=request.seed
        )
        # Drafts keep greedy decoding's choices (up to the arithmetic of a batch); sampling
        # would need them accepted by probability ratios, so it decodes token by token.
        greedy = request.temperature <= 0.0
        target.lookup = PromptLookup(prompt) if greedy and request.drafts else None
        target.acceptance = Acceptance()
        target.drafted = target.accepted = 0
        target.top = ()

    def _step(self) -> None:
        batch = self._batch
        running = [s for s in self._slots if s.request is not None]
        generating = [s for s in running if not s.reading]
        reading = [s for s in running if s.reading]
        room = min(_READ_PER_STEP, self.batch_tokens - len(generating) * (1 + _LONGEST_DRAFT))
        reads: list[tuple[_Slot, list[int]]] = []
        for slot in reading:
            if room <= 0:
                break
            reads.append((slot, slot.pending[:room]))
            room -= len(reads[-1][1])
        worth = self._draft_worth(len(generating), sum(len(t) for _, t in reads))
        n = 0
        plan: list[tuple[_Slot, int, list[int], int]] = []  # slot, tokens, draft, first output
        for slot in generating:
            draft = self._draft(slot, worth)
            first = n
            slot.pending.extend(draft)
            n = self._put(slot, slot.pending, n, outputs=True)
            plan.append((slot, 1 + len(draft), draft, first))
        for slot, take in reads:
            n = self._put(slot, take, n, outputs=False)
            done = len(take) == len(slot.pending)
            if done:
                batch.logits[n - 1] = 1
            plan.append((slot, len(take), [], n - 1 if done else -1))
        batch.n_tokens = n
        started = time.perf_counter()
        status = self._llama.llama_decode(self._ctx, batch)
        if status != 0:
            raise RuntimeError(f"llama_decode failed with status {status}")
        self._cost.add(n, time.perf_counter() - started)
        for slot, taken, draft, first in plan:
            slot.tokens.extend(slot.pending[:taken])
            del slot.pending[:taken]
            if first >= 0:
                self._advance(slot, first, draft)

    def _draft_worth(self, generating: int, reading: int) -> float:
        """The least chance of being right at which a draft token pays for its place in this
        step: its cost, over what a token the step produces costs without drafts."""
        if generating == 0:
            return 1.0
        fixed, per_token = self._cost.line()
        return per_token * generating / (fixed + per_token * (generating + reading))

    def _draft(self, slot: _Slot, worth: float) -> list[int]:
        request, lookup = slot.request, slot.lookup
        if request is None or lookup is None:
            return []
        room = request.max_tokens - len(slot.output) - 1  # this step's own token comes first
        return lookup.draft(min(room, slot.acceptance.length(worth, _LONGEST_DRAFT)))

    def _put(self, slot: _Slot, tokens: list[int], n: int, *, outputs: bool) -> int:
        batch = self._batch
        position = len(slot.tokens)
        for offset, token in enumerate(tokens):
            batch.token[n] = token
            batch.pos[n] = position + offset
            batch.n_seq_id[n] = 1
            batch.seq_id[n][0] = slot.seq_id
            batch.logits[n] = 1 if outputs else 0
            n += 1
        return n

    def _advance(self, slot: _Slot, first: int, draft: list[int]) -> None:
        """Choose the sequence's next tokens from the logits at `first` onwards: its own next
        token, then one more for each draft token that matches what was chosen before it."""
        request, chooser = slot.request, slot.chooser
        assert request is not None
        assert chooser is not None
        slot.drafted += len(draft)
        chosen: list[int] = []
        for j in range(len(draft) + 1):  # logits after the sequence's token, then each draft's
            pointer = self._llama.llama_get_logits_ith(self._ctx, first + j)
            logits = np.ctypeslib.as_array(
                ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float)), shape=(self.n_vocab,)
            )
            if not slot.output and request.top_logprobs > 0:
                slot.top = self._likeliest(logits, request.top_logprobs)
            token = chooser.choose(logits, self._candidates)
            if not slot.output:
                slot.first_token = time.monotonic()
            # Here the first j draft tokens matched: their cells hold the right context.
            if self._llama.llama_vocab_is_eog(self._vocab, token):
                self._keep(slot, j, draft)
                self._finish(slot, reason="stop")
                return
            chooser.accept(token)
            chosen.append(token)
            slot.output.append(token)
            if len(slot.output) >= request.max_tokens:
                self._keep(slot, j, draft)
                self._finish(slot, reason="length")
                return
            if j == len(draft) or token != draft[j]:
                self._keep(slot, j, draft)
                break
        slot.pending = [chosen[-1]]
        if slot.lookup is not None:
            slot.lookup.extend(chosen)

    def _keep(self, slot: _Slot, matched: int, draft: list[int]) -> None:
        """Drop the KV cells of the draft tokens after the `matched` first ones."""
        slot.accepted += matched
        if draft:
            slot.acceptance.add(len(draft), matched)
        wrong = len(draft) - matched
        if wrong > 0:
            del slot.tokens[len(slot.tokens) - wrong :]
            self._llama.llama_memory_seq_rm(self._memory, slot.seq_id, len(slot.tokens), -1)

    def _finish(
        self,
        slot: _Slot,
        *,
        reason: Literal["stop", "length"] = "stop",
        error: BaseException | None = None,
    ) -> None:
        request, chooser = slot.request, slot.chooser
        slot.request, slot.chooser, slot.pending = None, None, []
        slot.last_used = time.monotonic()
        if chooser is not None:
            chooser.close()
        if request is None:
            return
        if error is not None:
            _fail(request, error)
            return
        text = self._detokenize(slot.output)
        now = time.monotonic()
        result = Generation(
            text=text,
            prompt_tokens=len(request.prompt),
            completion_tokens=len(slot.output),
            finish_reason=reason,
            cached_tokens=slot.cached,
            rejections=chooser.rejections if chooser is not None else 0,
            drafted=slot.drafted,
            accepted=slot.accepted,
            top_logprobs=slot.top,
            read_s=slot.first_token - slot.admitted,
            write_s=now - slot.first_token,
        )
        if not request.future.done():
            request.future.set_result(result)

    def _likeliest(self, logits: np.ndarray[Any, Any], k: int) -> tuple[tuple[str, float], ...]:
        """The `k` likeliest next tokens and their log-probabilities (the model's own, before
        any grammar or sampling setting)."""
        k = min(k, self.n_vocab)
        peak = float(logits.max())
        total = peak + float(np.log(np.exp(logits - peak).sum()))
        best = np.argpartition(-logits, k - 1)[:k]
        best = best[np.argsort(-logits[best])]
        return tuple((self._detokenize([int(t)]), float(logits[t]) - total) for t in best)

    def _detokenize(self, tokens: list[int]) -> str:
        buffer = ctypes.create_string_buffer(256)
        pieces = []
        for token in tokens:
            size = self._llama.llama_token_to_piece(self._vocab, token, buffer, 256, 0, False)
            pieces.append(buffer.raw[: max(size, 0)])
        return b"".join(pieces).decode("utf-8", errors="replace")


def _expired(request: GenerationRequest, now: float) -> BaseException | None:
    if request.cancelled or request.future.cancelled():
        return GenerationCancelled("the generation was cancelled")
    if request.deadline is not None and now >= request.deadline:
        return GenerationTimeout("the generation ran past its time limit and was stopped")
    return None


def _fail(request: GenerationRequest, error: BaseException) -> None:
    if not request.future.done():
        request.future.set_exception(error)
