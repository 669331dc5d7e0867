"""Choosing each next token of an embedded generation: sampled first, checked against the grammar.

llama.cpp's grammar sampler, placed in a sampler chain, tests every token of the vocabulary
against the grammar at every step (151,936 for Qwen2.5) before the greedy or random choice:
that is most of the cost of constrained decoding. Here the token is chosen from the raw logits
first and only that one token is tested; when the grammar rejects it, the whole vocabulary is
masked and the choice made again among the tokens the grammar allows (the order llama.cpp's own
`common_sampler` uses). The result is the same token: greedy picks the best allowed token either
way, and a random draw that is rejected and drawn again from the allowed ones samples exactly
the grammar-restricted distribution.
"""

from __future__ import annotations

import ctypes
import math
import threading
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Candidates", "GrammarError", "GrammarTemplates", "TokenChooser"]

Logits = npt.NDArray[np.float32]


class GrammarError(ValueError):
    """A grammar llama.cpp cannot parse, or one that allows no token at some step."""


def _llama() -> Any:
    import llama_cpp

    return llama_cpp


class GrammarTemplates:
    """Parsed grammars, one per grammar text, cloned for each generation (parsing a grammar
    with bounded repetitions costs milliseconds; cloning a parsed one does not)."""

    def __init__(self, vocab: Any) -> None:
        self._vocab = vocab
        self._parsed: dict[str, Any] = {}
        self._lock = threading.Lock()

    def clone(self, grammar: str) -> Any:
        llama = _llama()
        with self._lock:
            template = self._parsed.get(grammar)
            if template is None:
                template = llama.llama_sampler_init_grammar(
                    self._vocab, grammar.encode("utf-8"), b"root"
                )
                if not template:
                    raise GrammarError("llama.cpp could not parse the response grammar")
                self._parsed[grammar] = template
            return llama.llama_sampler_clone(template)

    def close(self) -> None:
        llama = _llama()
        with self._lock:
            for template in self._parsed.values():
                llama.llama_sampler_free(template)
            self._parsed.clear()


class Candidates:
    """A reusable llama_token_data_array over the whole vocabulary, and one of a single token."""

    def __init__(self, n_vocab: int) -> None:
        llama = _llama()
        self.n_vocab = n_vocab
        self._data = (llama.llama_token_data * n_vocab)()
        dtype = np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")])
        self._view = np.frombuffer(self._data, dtype=dtype)
        self._view["id"] = np.arange(n_vocab, dtype=np.int32)
        self._all = llama.llama_token_data_array(
            data=self._data, size=n_vocab, selected=-1, sorted=False
        )
        self._single = (llama.llama_token_data * 1)()
        self._one = llama.llama_token_data_array(
            data=self._single, size=1, selected=-1, sorted=False
        )

    def allows(self, grammar: Any, token: int) -> bool:
        """Whether the grammar, in its current state, accepts `token` next."""
        self._single[0].id = token
        self._single[0].logit = 0.0
        self._one.data = self._single
        self._one.size, self._one.selected, self._one.sorted = 1, -1, False
        _llama().llama_sampler_apply(grammar, ctypes.byref(self._one))
        return math.isfinite(self._single[0].logit)

    def masked(self, grammar: Any, logits: Logits) -> Logits:
        """The logits with every token the grammar rejects set to -inf (a copy)."""
        self._view["id"] = np.arange(self.n_vocab, dtype=np.int32)
        self._view["logit"] = logits
        self._all.data = self._data
        self._all.size, self._all.selected, self._all.sorted = self.n_vocab, -1, False
        _llama().llama_sampler_apply(grammar, ctypes.byref(self._all))
        return np.array(self._view["logit"], dtype=np.float32)


class TokenChooser:
    """The next-token choice for one generation: greedy at temperature 0, otherwise a draw at
    that temperature within `top_p`, always inside the grammar when there is one."""

    def __init__(
        self,
        grammar: Any | None,
        *,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
    ) -> None:
        self.grammar = grammar
        self.temperature = temperature
        self.top_p = top_p
        self._rng = np.random.default_rng(seed)
        self.rejections = 0

    def choose(self, logits: Logits, candidates: Candidates) -> int:
        token = self._pick(logits)
        if self.grammar is None or candidates.allows(self.grammar, token):
            return token
        self.rejections += 1
        allowed = candidates.masked(self.grammar, logits)
        if not np.isfinite(allowed).any():
            raise GrammarError("the response grammar allows no next token")
        return self._pick(allowed)

    def accept(self, token: int) -> None:
        """Advance the grammar past `token` (an end-of-generation token is never accepted)."""
        if self.grammar is not None:
            _llama().llama_sampler_accept(self.grammar, token)

    def close(self) -> None:
        if self.grammar is not None:
            _llama().llama_sampler_free(self.grammar)
            self.grammar = None

    def _pick(self, logits: Logits) -> int:
        if self.temperature <= 0.0:
            return int(np.argmax(logits))
        scaled = logits.astype(np.float64) / self.temperature
        scaled -= scaled.max()
        weights = np.exp(scaled)
        weights /= weights.sum()
        if self.top_p < 1.0:
            order = np.argsort(-weights)
            cumulative = np.cumsum(weights[order])
            keep = order[: int(np.searchsorted(cumulative, self.top_p)) + 1]
            kept = weights[keep] / weights[keep].sum()
            return int(keep[self._rng.choice(len(keep), p=kept)])
        return int(self._rng.choice(len(weights), p=weights))
