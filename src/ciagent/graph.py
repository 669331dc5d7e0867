"""Wiring only: the enrichment graph's nodes and edges. Each step lives in `ciagent.steps`.

    START → chunk ─Send per chunk─▶ notes ─▶ merge → summarize → verify → claims
                 ├───────────────▶ names ─┤
                 ├─────────────▶ extract ─┴──┐
                 └──────▶ chapter_titles ────┴─▶ chapters
          claims ─(something failed, a stronger tier exists)─▶ escalate → finalize → END
          claims ─(otherwise)───────────────────────────────────────▶ finalize → END

The names step (the NLP pipeline, no model call) reads the transcript while the notes calls run,
and so does the chapter titles' call, which needs only the transcript: a backend that batches
(the embedded engine, a vLLM server) decodes it with the notes, and it is not left to run alone
after them. The chapters step then checks the titles, with the NLP pipeline's noun phrases for
the stand-ins. A tight run cap still holds: a call refused only because of holds in flight waits
for them to settle (`BudgetGuard.areserve`).

Run-scoped dependencies (settings, model client, token counter, progress) reach the steps through
langgraph's `Runtime[RunContext]`, never through globals.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any, Protocol, TypeVar

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime, get_runtime
from langgraph.types import Send

from ciagent.state import ChunkTask, EnrichState, EnrichUpdate, RunContext
from ciagent.steps.chapters import chapter_titles, chapters
from ciagent.steps.chunk import chunk
from ciagent.steps.claims import claims
from ciagent.steps.escalate import escalate, needs_escalation
from ciagent.steps.extract import extract
from ciagent.steps.finalize import finalize
from ciagent.steps.merge import merge
from ciagent.steps.names import names
from ciagent.steps.notes import chunk_notes
from ciagent.steps.summarize import summarize
from ciagent.steps.verify import verify

__all__ = ["build_graph"]

S = TypeVar("S")
S_contra = TypeVar("S_contra", contravariant=True)
Step = Callable[[S, RunContext], Awaitable[EnrichUpdate]]


class _RuntimeNode(Protocol[S_contra]):
    """A node as langgraph calls it: the state, and the run's Runtime by keyword."""

    def __call__(
        self, state: S_contra, *, runtime: Runtime[RunContext]
    ) -> Awaitable[EnrichUpdate]: ...


def _node(step: Step[S]) -> _RuntimeNode[S]:
    async def run(state: S, *, runtime: Runtime[RunContext]) -> EnrichUpdate:
        return await step(state, runtime.context)

    run.__name__ = step.__name__
    return run


def _one_branch_per_chunk(state: EnrichState) -> list[Send]:
    transcript = state["transcript"]
    return [Send("notes", ChunkTask(transcript=transcript, chunk=c)) for c in state["chunks"]]


def _escalate_or_finalize(state: EnrichState) -> str:
    context: RunContext = get_runtime(RunContext).context
    return "escalate" if needs_escalation(state, context) else "finalize"


@lru_cache(maxsize=1)
def build_graph() -> Any:
    """The compiled graph (built once per process; it holds no run state)."""
    graph = StateGraph(EnrichState, context_schema=RunContext)
    graph.add_node("chunk", _node(chunk))
    graph.add_node("notes", _node(chunk_notes), input_schema=ChunkTask)
    graph.add_node("names", _node(names))
    graph.add_node("extract", _node(extract))
    graph.add_node("merge", _node(merge))
    graph.add_node("summarize", _node(summarize))
    graph.add_node("chapter_titles", _node(chapter_titles))
    graph.add_node("chapters", _node(chapters))
    graph.add_node("verify", _node(verify))
    graph.add_node("claims", _node(claims))
    graph.add_node("escalate", _node(escalate))
    graph.add_node("finalize", _node(finalize))
    graph.add_edge(START, "chunk")
    graph.add_conditional_edges("chunk", _one_branch_per_chunk, ["notes"])
    graph.add_edge("chunk", "names")
    graph.add_edge("chunk", "extract")
    graph.add_edge("chunk", "chapter_titles")
    graph.add_edge(["notes", "names", "extract"], "merge")
    graph.add_edge(["names", "chapter_titles"], "chapters")
    graph.add_edge("merge", "summarize")
    graph.add_edge("summarize", "verify")
    graph.add_edge("verify", "claims")
    graph.add_conditional_edges("claims", _escalate_or_finalize, ["escalate", "finalize"])
    graph.add_edge("escalate", "finalize")
    graph.add_edge("finalize", END)
    return graph.compile()
