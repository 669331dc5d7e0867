"""One step of the embedded engine: in a single `llama_decode`, the next token of every
generation in flight (with its draft, `ciagent.llm.drafting`) and a slice of the prompts still
being read; then each generation's next tokens chosen (`ciagent.llm.sampling`), and finished
generations answered.

A step costs a fixed part (every weight of the model is read once) and a part per token in it,
so sequences decoded together cost much less than a step each.
"""

from __future__ import annotations

import ctypes
import time
from typing import Any, Literal

import numpy as np

from ciagent.llm.drafting import StepCost
from ciagent.llm.generation import Generation, fail
from ciagent.llm.kv_streams import READ_PER_STEP, Slot, Streams
from ciagent.llm.sampling import Candidates

__all__ = ["Decoder"]

# Most draft tokens decoded beside a sequence's own in one step.
_LONGEST_DRAFT = 8


class Decoder:
    """Steps over the streams of one context."""

    def __init__(self, llama: Any, ctx: Any, vocab: Any, streams: Streams, batch_tokens: int):
        self._llama, self._ctx, self._vocab = llama, ctx, vocab
        self._streams = streams
        self.batch_tokens = batch_tokens
        self.n_vocab = int(llama.llama_vocab_n_tokens(vocab))
        self._batch = llama.llama_batch_init(batch_tokens, 0, 1)
        self._candidates = Candidates(self.n_vocab)
        self._cost = StepCost()

    def close(self) -> None:
        self._llama.llama_batch_free(self._batch)

    def step(self) -> None:
        batch = self._batch
        running = [s for s in self._streams.slots if s.request is not None]
        generating = [s for s in running if not s.reading]
        reading = [s for s in running if s.reading]
        room = min(READ_PER_STEP, self.batch_tokens - len(generating) * (1 + _LONGEST_DRAFT))
        reads: list[tuple[Slot, list[int]]] = []
        for slot in reading:
            if room <= 0:
                break
            reads.append((slot, slot.pending[:room]))
            room -= len(reads[-1][1])
        worth = self._draft_worth(len(generating), sum(len(t) for _, t in reads))
        n = 0
        plan: list[tuple[Slot, int, list[int], int]] = []  # slot, tokens, draft, first output
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

    def _draft(self, slot: Slot, worth: float) -> list[int]:
        request, lookup = slot.request, slot.lookup
        if request is None or lookup is None:
            return []
        room = request.max_tokens - len(slot.output) - 1  # this step's own token comes first
        return lookup.draft(min(room, slot.acceptance.length(worth, _LONGEST_DRAFT)))

    def _put(self, slot: Slot, tokens: list[int], n: int, *, outputs: bool) -> int:
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

    def _advance(self, slot: Slot, first: int, draft: list[int]) -> None:
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
                self.finish(slot, reason="stop")
                return
            chooser.accept(token)
            chosen.append(token)
            slot.output.append(token)
            if len(slot.output) >= request.max_tokens:
                self._keep(slot, j, draft)
                self.finish(slot, reason="length")
                return
            if j == len(draft) or token != draft[j]:
                self._keep(slot, j, draft)
                break
        slot.pending = [chosen[-1]]
        if slot.lookup is not None:
            slot.lookup.extend(chosen)

    def _keep(self, slot: Slot, matched: int, draft: list[int]) -> None:
        """Drop the KV cells of the draft tokens after the `matched` first ones."""
        slot.accepted += matched
        if draft:
            slot.acceptance.add(len(draft), matched)
        wrong = len(draft) - matched
        if wrong > 0:
            self._streams.drop_after(slot, len(slot.tokens) - wrong)

    def finish(
        self,
        slot: Slot,
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
            fail(request, error)
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
