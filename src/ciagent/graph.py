"""Wiring only: the enrichment graph's nodes and edges. Each step lives in `ciagent.steps`.

    START → chunk ─Send per chunk─▶ notes ─▶ merge → summarize → verify → claims
                 ├─────────────▶ extract ─┘                      └─▶ names ─┐
                 └──────▶ chapter_titles ───────────────────────────────────┴─▶ chapters
          claims ─(something failed, a stronger tier exists)─▶ escalate → finalize → END
          claims ─(otherwise)───────────────────────────────────────▶ finalize → END

The NLP pipeline (no model call) reads the transcript from the episode's start, beside every
call (`steps.names.read_ahead`); the names step, after verify, collects its reading. (langgraph
runs the graph in rounds: a step holds every step after it until it ends, so a reading in a
step beside the notes held the summary back.) The chapter titles' call needs only the
transcript and is asked beside the notes calls: a backend that batches
(the embedded engine, a vLLM server) decodes it with the notes, and it is not left to run alone
after them. The chapters step then checks the titles, with the NLP pipeline's noun phrases for
the stand-ins. A tight run cap still holds: a call refused only because of holds in flight waits
for them to settle (`BudgetGuard.areserve`).

Every step, built-in or a team's own, is a `ciagent.pipeline.Step` placed by name (the steps
it runs after); `BUILTIN_STEPS` declares the ones above, `Settings.steps` adds others, and
`build_graph` wires them: a step waits for all it runs after, a per-chunk step is sent once per
chunk, and `finalize` waits for every step that nothing else waits for. Escalation is a step
that runs only when something failed and a stronger tier exists (`needs_escalation`).

Run-scoped dependencies (settings, model client, token counter, progress) reach the steps through
langgraph's `Runtime[RunContext]`, never through globals.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from ciagent.pipeline import BUILTIN_PLACES, Step, in_order
from ciagent.state import ChunkTask, EnrichState, RunContext
from ciagent.steps.chapters import chapter_titles, chapters
from ciagent.steps.chunk import chunk
from ciagent.steps.claims import claims
from ciagent.steps.episode_calls import episode_calls, has_episode_calls
from ciagent.steps.escalate import escalate, needs_escalation
from ciagent.steps.extract import extract
from ciagent.steps.finalize import finalize
from ciagent.steps.merge import merge
from ciagent.steps.names import names
from ciagent.steps.node import node
from ciagent.steps.notes import chunk_notes
from ciagent.steps.summarize import summarize
from ciagent.steps.verify import verify

__all__ = ["BUILTIN_STEPS", "build_graph"]


def _builtin(name: str, run: Any, **options: Any) -> Step:
    after, per_chunk = BUILTIN_PLACES[name]
    return Step(name, run, after, per_chunk=per_chunk, contained=False, **options)


BUILTIN_STEPS: tuple[Step, ...] = (
    _builtin("chunk", chunk),
    _builtin("notes", chunk_notes),
    _builtin("names", names),
    _builtin("extract", extract),
    _builtin("chapter_titles", chapter_titles),
    _builtin("merge", merge),
    _builtin("chapters", chapters),
    _builtin("summarize", summarize),
    _builtin("verify", verify),
    _builtin("claims", claims),
    _builtin("episode_calls", episode_calls, when=has_episode_calls),
    _builtin("escalate", escalate, when=needs_escalation),
    _builtin("finalize", finalize),
)
"""The built-in steps, each placed as `ciagent.pipeline.BUILTIN_PLACES` says."""


def _fan_out(per_chunk: list[str]) -> Any:
    def send(state: EnrichState) -> list[Send]:
        transcript = state["transcript"]
        return [
            Send(name, ChunkTask(transcript=transcript, chunk=c))
            for name in per_chunk
            for c in state["chunks"]
        ]

    return send


@lru_cache(maxsize=8)
def build_graph(extra: tuple[Step, ...] = ()) -> Any:
    """The compiled graph of the built-in steps and `extra` (built once per set of steps; it
    holds no run state). A ConfigError names a step placed after or before one that does not
    exist, and a cycle."""
    graph = StateGraph(EnrichState, context_schema=RunContext)
    ordered = in_order((*BUILTIN_STEPS, *extra))
    for s, _ in ordered:
        graph.add_node(s.name, node(s), input_schema=ChunkTask if s.per_chunk else None)
    sent: dict[str, list[str]] = {}
    for s, waits in ordered:
        if s.per_chunk:
            sent.setdefault(waits[0], []).append(s.name)
        elif not waits:
            graph.add_edge(START, s.name)
        else:
            graph.add_edge(list(waits) if len(waits) > 1 else waits[0], s.name)
    for source, targets in sent.items():
        graph.add_conditional_edges(source, _fan_out(targets), targets)
    waited_on = {w for _, waits in ordered for w in waits}
    for s, _ in ordered:
        if s.name not in waited_on:
            graph.add_edge(s.name, END)
    return graph.compile()
