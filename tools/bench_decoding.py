"""What constrained decoding and batching cost on the embedded model.

    python -m tools.bench_decoding

The requests are the chunk-notes calls of a real meeting (QMSum's Bro011, 1,500-token chunks),
exactly as ciagent's call path sends them (captured through a FakeModel: same messages, same
response schema), decoded greedily on the 0.5B embedded model, with the same max tokens:

- free: no grammar;
- llama-cpp-python's sampler chain with the chunk-notes grammar, which tests every token of the
  vocabulary against the grammar at every step (how ciagent decoded before its engine);
- the engine with the same grammar: the token is chosen first and only it is tested;
- the engine with a lean grammar: string lengths left out of it (the response model still
  checks them after decoding);
- the engine with the grammar and drafts by prompt lookup (what ciagent runs), and free
  decoding with drafts beside it.

Decode rate is (tokens - 1) / seconds from the first token to the last, so reading the prompt
is not in it. Then the same four chunks one at a time, and all four in flight at once, token by
token and with drafts.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from ciagent import Settings
from ciagent.api import aenrich
from ciagent.llm.embedded import EmbeddedOptions, LocalLlama, grammar_for
from ciagent.llm.generation import Generation, GenerationRequest
from ciagent.llm.grammar import without_length_bounds
from ciagent.testing import FakeModel
from tools.simulated import ROOT

__all__ = ["main", "notes_requests"]

MEETING = ROOT.parent / "shared" / "datasets" / "qmsum" / "Bro011.json"
MAX_TOKENS = 700


@dataclass(frozen=True)
class Ask:
    messages: list[dict[str, Any]]
    schema: dict[str, Any]


def notes_requests(count: int) -> list[Ask]:
    """The first `count` chunk-notes requests ciagent sends for the meeting."""
    fake = FakeModel()
    settings = Settings(model=fake, cache=False, chunk_tokens=1500, escalate=False)
    asyncio.run(aenrich(MEETING, settings))
    asks = [
        Ask(list(r.messages), r.schema)
        for r in fake.requests
        if r.schema is not None and r.schema_name == "ChunkNotes"
    ]
    return asks[:count]


def _format(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "ChunkNotes", "schema": schema}}


def _request(
    llama: LocalLlama, ask: Ask, grammar: str | None, drafts: bool = False
) -> GenerationRequest:
    return GenerationRequest(
        prompt=llama.prompt_tokens(ask.messages),
        max_tokens=MAX_TOKENS,
        grammar=grammar,
        seed=0,
        drafts=drafts,
    )


def _engine(llama: LocalLlama, ask: Ask, grammar: str | None, drafts: bool = False) -> Generation:
    return llama.engine.submit(_request(llama, ask, grammar, drafts)).result()


def _chain(llama: LocalLlama, ask: Ask, grammar: str) -> tuple[int, float, float]:
    """(tokens, seconds to the first token, seconds after it) on llama-cpp-python's own
    sampler chain with the grammar, on a context of its own."""
    from llama_cpp import Llama, LlamaGrammar

    model = Llama(
        model_path=llama._model.path_model,
        n_ctx=llama.options.n_ctx,
        n_threads=llama.threads,
        verbose=False,
    )
    prompt = llama.prompt_tokens(ask.messages)
    started = time.perf_counter()
    first = started
    tokens = 0
    for token in model.generate(prompt, temp=0.0, grammar=LlamaGrammar.from_string(grammar)):
        if tokens == 0:
            first = time.perf_counter()
        if model.token_eos() == token or tokens >= MAX_TOKENS:
            break
        tokens += 1
    ended = time.perf_counter()
    model.close()
    return tokens, first - started, ended - first


def _rate(tokens: int, seconds: float) -> float:
    return (tokens - 1) / seconds if seconds > 0 else 0.0


def _grammar_rules(grammar: str) -> int:
    return sum(1 for line in grammar.splitlines() if "::=" in line)


def _parse_ms(llama: LocalLlama, grammar: str) -> float:
    import llama_cpp

    started = time.perf_counter()
    parsed = llama_cpp.llama_sampler_init_grammar(
        llama._model.vocab, grammar.encode("utf-8"), b"root"
    )
    elapsed = time.perf_counter() - started
    llama_cpp.llama_sampler_free(parsed)
    return elapsed * 1000


def single_sequence(llama: LocalLlama, ask: Ask) -> dict[str, float]:
    bounded = grammar_for(_format(ask.schema))
    lean = grammar_for(_format(without_length_bounds(ask.schema)))
    assert bounded is not None
    assert lean is not None
    rows: list[tuple[str, int, float, float, str]] = []
    # llama-cpp-python first, on a context of its own, so that nothing of it runs beside the
    # engine's rows.
    tokens, read, write = _chain(llama, ask, bounded)
    rows.append(("llama-cpp-python chain + grammar", tokens, read, write, "whole vocabulary"))
    _engine(llama, ask, None)  # warm up, and put the prompt in the KV cache for every row
    for name, grammar, drafts in (
        ("free, token by token", None, False),
        ("engine + grammar", bounded, False),
        ("engine + lean grammar", lean, False),
        ("engine + grammar + drafts", bounded, True),
        ("free + drafts", None, True),
    ):
        done = _engine(llama, ask, grammar, drafts)
        note = f"valid JSON: {_valid(done.text)}"
        if grammar is not None:
            note += f"; {done.rejections} first picks rejected by the grammar"
        if drafts:
            note += f"; drafts {done.accepted}/{done.drafted} kept"
        rows.append((name, done.completion_tokens, done.read_s, done.write_s, note))
    figures: dict[str, float] = {}
    for name, tokens, read, write, note in rows:
        figures[name] = _rate(tokens, write)
        print(
            f"  {name:34} {tokens:4d} tokens, {figures[name]:5.1f} tokens/s decode "
            f"({write:5.1f} s; prompt {read:4.1f} s) {note}"
        )
    print(
        f"  grammar: {_grammar_rules(bounded)} rules as written, parsed in "
        f"{_parse_ms(llama, bounded):.1f} ms; lean {_grammar_rules(lean)} rules, "
        f"{_parse_ms(llama, lean):.1f} ms"
    )
    free = figures["free, token by token"]
    print(
        "  constrained / free decode: "
        f"engine with drafts {figures['engine + grammar + drafts'] / free:.2f}, "
        f"engine token by token {figures['engine + grammar'] / free:.2f}, "
        f"llama-cpp-python's chain {figures['llama-cpp-python chain + grammar'] / free:.2f} "
        "(target >= 0.8)"
    )
    return figures


def _valid(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def in_flight(llama: LocalLlama, asks: list[Ask]) -> float:
    """Aggregate output tokens/s of the requests one at a time, then all at once."""
    grammars = [grammar_for(_format(ask.schema)) for ask in asks]
    pairs = list(zip(asks, grammars, strict=True))
    for ask, grammar in pairs:
        _engine(llama, ask, grammar)  # warm: every prompt's prefix is in the cache either way
    ratio = 0.0
    for drafts in (False, True):
        started = time.perf_counter()
        one = [_engine(llama, ask, g, drafts) for ask, g in pairs]
        sequential = time.perf_counter() - started
        started = time.perf_counter()
        futures = [llama.engine.submit(_request(llama, ask, g, drafts)) for ask, g in pairs]
        together = [f.result() for f in futures]
        parallel = time.perf_counter() - started
        rates = []
        for label, done, wall in (("1", one, sequential), (str(len(asks)), together, parallel)):
            tokens = sum(g.completion_tokens for g in done)
            rates.append(tokens / wall)
            print(
                f"  {label} in flight{' with drafts' if drafts else ''}: {tokens} output tokens "
                f"in {wall:.1f} s, {tokens / wall:.1f} tokens/s"
            )
        ratio = rates[1] / rates[0]
        print(
            f"  {len(asks)} in flight / 1{' (with drafts)' if drafts else ''}: {ratio:.2f}"
            f"{' (target >= 1.5)' if not drafts else ''}"
        )
    return ratio


def main() -> None:
    settings = Settings()
    asks = notes_requests(4)
    llama = LocalLlama.get(
        EmbeddedOptions(models_dir=settings.model_files_dir, n_ctx=settings.embedded_context)
    )
    print(f"embedded qwen2.5-coder-0.5b, {llama.threads} threads, chunk notes of {MEETING.name}")
    single_sequence(llama, asks[0])
    in_flight(llama, asks)


if __name__ == "__main__":
    main()
