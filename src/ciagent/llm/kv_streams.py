"""The KV streams of the embedded engine's one llama.cpp context: one per sequence in flight,
and which of them a new generation starts from.

Prompts share their beginning (instructions, schema, worked example): a new generation starts
from the longest prefix of its prompt that any stream holds, running or finished, and reads only
the rest. A finished sequence's cells stay until its stream serves another request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ciagent.llm.drafting import Acceptance, PromptLookup
from ciagent.llm.generation import GenerationRequest
from ciagent.llm.sampling import GrammarTemplates, TokenChooser

__all__ = ["READ_PER_STEP", "Slot", "Streams", "common_prefix"]


@dataclass(eq=False)
class Slot:
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


# Prompt tokens read per step: a step is where a cancel or a deadline is noticed, and 512 prompt
# tokens take 3-7 s on 2 slow cores; 128 keep that near a second at little cost to prefill speed.
READ_PER_STEP = 128
# Tokens of prefix another sequence must hold beyond a slot's own before its stream is copied.
_WORTH_COPYING = 64


def common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    if n == 0:
        return 0
    left, right = np.asarray(a[:n]), np.asarray(b[:n])
    differ = np.flatnonzero(left != right)
    return int(differ[0]) if differ.size else n


class Streams:
    """The slots of one context (`parallel` KV streams) and the llama.cpp memory they live in."""

    def __init__(self, llama: Any, memory: Any, parallel: int, grammars: GrammarTemplates):
        self._llama, self._memory, self.grammars = llama, memory, grammars
        self.slots = [Slot(seq_id=i) for i in range(parallel)]

    def busy(self) -> bool:
        return any(slot.request is not None for slot in self.slots)

    def full(self) -> bool:
        return all(slot.request is not None for slot in self.slots)

    def prefix_coming(self, request: GenerationRequest) -> bool:
        """Whether a sequence now reading its prompt will soon hold a longer prefix of this
        prompt than any sequence holds now: then the request waits a step or two and copies
        it, rather than reading the shared instructions again."""
        prompt = request.prompt
        held = max(self.prefixes(prompt).values())
        limit = len(prompt) - 1
        for slot in self.slots:
            if slot.request is not None and slot.reading:
                coming = min(common_prefix(slot.request.prompt, prompt), limit)
                if coming > held + _WORTH_COPYING:
                    return True
        return False

    def prefixes(self, prompt: list[int]) -> dict[Slot, int]:
        """How much of `prompt` each stream holds and can give: at most all but its last token,
        which is read again for its logits."""
        limit = len(prompt) - 1
        return {slot: min(common_prefix(slot.tokens, prompt), limit) for slot in self.slots}

    def forget(self, slot: Slot) -> None:
        self._llama.llama_memory_seq_rm(self._memory, slot.seq_id, -1, -1)
        slot.tokens, slot.pending, slot.output = [], [], []

    def drop_after(self, slot: Slot, kept: int) -> None:
        """Drop the slot's cells from position `kept` on."""
        del slot.tokens[kept:]
        self._llama.llama_memory_seq_rm(self._memory, slot.seq_id, kept, -1)

    def place(self, request: GenerationRequest) -> None:
        prompt = request.prompt
        held = self.prefixes(prompt)
        idle = [s for s in self.slots if s.request is None]
        target = max(idle, key=lambda s: (held[s], -s.last_used))
        source = max(self.slots, key=lambda s: held[s])
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
