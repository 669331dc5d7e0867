"""Steps of a team's own, placed by name rather than edited into the graph: a `Step` is a
function over the run's state (and its `RunContext`: settings, the model client, the token
counter), a name, and its place: the steps it runs `after` (it waits for all of them) and,
optionally, the steps that wait for it (`before`). The built-in steps are declared the same way
(`ciagent.graph.BUILTIN_STEPS`); `ciagent.graph.build_graph` wires them all.

    from pydantic import BaseModel
    from ciagent import Settings, step

    class Length(BaseModel):
        words: int

    @step("length", after="verify", result=Length)
    def length(state, ctx):
        return Length(words=len(state["summary"].split()))

    result = ciagent.enrich("episode.vtt", Settings(steps=(length,)))
    result.extras["length"]  # {"words": 57}

What a step returns: a pydantic model (or a list of them, or plain JSON data other than a dict)
is its result, put in `EpisodeEnrichment.extras[name]`; a dict is an update to the run's state,
as the built-in steps return (`ciagent.state.EnrichState` names its keys); None changes
nothing. A step placed after `finalize` sees the finished `result` and may return a changed one.
A plain function runs in a worker thread, never on the event loop; an `async def` runs on it.
A step's model calls (`ctx.client`, with `CallTag(step=name)`) are cached, held against the
budget and counted under its name in `cost.by_step`. An exception in a step of a team's own is
the episode's `StepFailure` (the episode is `partial`); nothing the other steps did is lost.
"""

from __future__ import annotations

import graphlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from ciagent.errors import ConfigError

__all__ = ["BUILTIN_PLACES", "Step", "as_step", "check_places", "in_order", "step"]

F = TypeVar("F", bound=Callable[..., Any])
Condition = Callable[[Any, Any], bool]


@dataclass(frozen=True)
class Step:
    """One step of the graph: `run(state, ctx)` (async or plain), run once all of `after` have
    run, and before each of `before`; `per_chunk`: run once for each chunk (its state is a
    `ChunkTask`, the transcript and one chunk), fanned out from the one step it runs after;
    `when(state, ctx)`: run only when it holds (otherwise the step passes, changing nothing);
    `result`: the model of what it puts in `extras[name]` (its JSON schema is in
    `ciagent schema`); `contained`: an exception is the episode's `StepFailure` rather than the
    run's error (every step of a team's own; the built-ins raise)."""

    name: str
    run: Callable[..., Any]
    after: tuple[str, ...] = ()
    before: tuple[str, ...] = ()
    per_chunk: bool = False
    when: Condition | None = None
    result: type[BaseModel] | None = None
    contained: bool = True

    def __post_init__(self) -> None:
        where = f"steps.{self.name}"
        if not self.name.isidentifier():
            raise ConfigError(where, "a step's name is a Python identifier (letters, _, digits)")
        if not callable(self.run):
            raise ConfigError(where, "run is not a function")
        if self.per_chunk and len(self.after) != 1:
            raise ConfigError(where, "a per-chunk step runs after exactly one step")


BUILTIN_PLACES: dict[str, tuple[tuple[str, ...], bool]] = {
    "chunk": ((), False),
    "notes": (("chunk",), True),
    "names": (("verify",), False),  # collects what `steps.names.read_ahead` began
    "extract": (("chunk",), False),
    "chapter_titles": (("chunk",), False),
    "merge": (("notes", "extract"), False),
    "chapters": (("names", "chapter_titles"), False),
    "summarize": (("merge",), False),
    "verify": (("summarize",), False),
    "claims": (("verify",), False),
    "episode_calls": (("verify",), False),
    "escalate": (("claims",), False),
    "finalize": (("escalate",), False),
}
"""Where each built-in step runs: the steps it runs after, and whether it runs per chunk
(`ciagent.graph.BUILTIN_STEPS` gives them their functions)."""


def check_places(steps: Iterable[Step]) -> None:
    """A ConfigError when `steps` cannot be placed among the built-in ones (see `in_order`)."""
    placed = [
        Step(name, _placed_elsewhere, after, per_chunk=per_chunk, contained=False)
        for name, (after, per_chunk) in BUILTIN_PLACES.items()
    ]
    in_order((*placed, *steps))


def _placed_elsewhere(state: Any, ctx: Any) -> None:
    """A built-in step's stand-in while places are checked (it never runs)."""


def _names(value: str | Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def step(
    name: str,
    *,
    after: str | Iterable[str],
    before: str | Iterable[str] = (),
    when: Condition | None = None,
    result: type[BaseModel] | None = None,
) -> Callable[[F], Step]:
    """Declare a function as a step of the graph, placed `after` the steps named (and `before`
    others, optionally): `@step("length", after="verify")`."""

    def declare(run: F) -> Step:
        return Step(name, run, _names(after), _names(before), when=when, result=result)

    return declare


def as_step(value: object, where: str = "steps") -> Step:
    """A `Step`, or a ConfigError naming what was given instead."""
    if isinstance(value, Step):
        return value
    raise ConfigError(where, f"{value!r} is not a step (declare it with ciagent.step)")


def in_order(steps: Iterable[Step]) -> list[tuple[Step, tuple[str, ...]]]:
    """Each step with every step it waits for, in an order that runs them (a step after all it
    waits for). `finalize` also waits for every step that nothing else waits for and that does
    not come after it, so the result has them all. A ConfigError names a step placed after or
    before one that does not exist, a name given twice, and a cycle."""
    given = list(steps)
    by_name: dict[str, Step] = {}
    for s in given:
        if s.name in by_name:
            raise ConfigError(f"steps.{s.name}", "two steps share this name")
        by_name[s.name] = s
    waits: dict[str, set[str]] = {s.name: set(s.after) for s in given}
    for s in given:
        for other in (*s.after, *s.before):
            if other not in by_name:
                known = ", ".join(sorted(by_name))
                raise ConfigError(f"steps.{s.name}", f"no step named {other!r} (steps: {known})")
        for later in s.before:
            if by_name[later].per_chunk:
                raise ConfigError(
                    f"steps.{s.name}", f"{later!r} runs per chunk: nothing goes before it"
                )
            waits[later].add(s.name)
    if "finalize" in waits:
        after_finalize = _descendants("finalize", waits)
        waited_on = {w for ws in waits.values() for w in ws}
        loose = set(waits) - waited_on - after_finalize - {"finalize"}
        waits["finalize"] |= loose
    try:
        order = list(graphlib.TopologicalSorter(waits).static_order())
    except graphlib.CycleError as cycle:
        path = " → ".join(cycle.args[1])
        raise ConfigError("steps", f"the steps' places make a cycle: {path}") from None
    return [(by_name[n], tuple(sorted(waits[n]))) for n in order]


def _descendants(root: str, waits: dict[str, set[str]]) -> set[str]:
    found: set[str] = set()
    frontier = {root}
    while frontier:
        frontier = {n for n, ws in waits.items() if ws & frontier} - found
        found |= frontier
    return found
