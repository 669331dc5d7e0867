"""Steps declared outside the package, placed by name: run where they are placed, their results
in `extras`, their model calls cached, budgeted and counted under their name, their failures
the episode's own; the built-in steps are declared the same way."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import ciagent
from ciagent import ConfigError, EpisodeEnrichment, Settings, extractor, step
from ciagent.graph import BUILTIN_STEPS, build_graph
from ciagent.llm.backend import CallTag
from ciagent.pipeline import BUILTIN_PLACES
from ciagent.prompts import Prompt
from ciagent.state import EnrichState, RunContext
from ciagent.testing import FakeModel, FakeRequest, default_answer
from tests.helpers import transcript_of

EPISODE = transcript_of(
    """Maya: Welcome back to The Long Tide. Today Sarah Chen joins us from the research vessel.
Sarah: We tagged twelve white sharks near Guadalupe Island this autumn.
Maya: How do the tags work?
Sarah: Each tag records depth and temperature, then pops off after six months.
Maya: Thank you, Sarah."""
)


class Length(BaseModel):
    words: int
    sentences: int


@step("length", after="verify", result=Length)
def length(state: EnrichState, ctx: RunContext) -> Length:
    """A plain function: the summary as it stands after verification, counted."""
    summary = state["summary"]
    return Length(words=len(summary.split()), sentences=max(1, summary.count(".")))


class Audience(BaseModel):
    audience: str


AUDIENCE = Prompt(
    name="audience",
    version="1",
    system="You say who an episode is for, in a few words.",
    user="Summary of the episode: $summary\nWho is it for?",
)


@step("audience", after="summarize", result=Audience)
async def audience(state: EnrichState, ctx: RunContext) -> Audience:
    """An async step that asks the run's model (cached, budgeted, counted as `audience`)."""
    tag = CallTag(step="audience")
    return await ctx.client.structured(tag, AUDIENCE, Audience, summary=state["summary"])


def answers(request: FakeRequest) -> dict[str, Any] | str:
    if request.schema_name == "Audience":
        return {"audience": "people who like the ocean"}
    return default_answer(request)


def test_steps_defined_here_run_where_they_are_placed(tmp_path: Path) -> None:
    fake = FakeModel(respond=answers, input_usd_per_mtok=1.0, output_usd_per_mtok=1.0)
    settings = Settings(model=fake, steps=(length, audience), cache_dir=tmp_path)
    result = ciagent.enrich(EPISODE, settings)
    assert result.status == "complete"
    assert result.extras["audience"] == {"audience": "people who like the ocean"}
    counted = result.extras["length"]
    assert counted["words"] == len(result.summary.split()) > 0
    line = result.cost.by_step["audience"]
    assert line.calls == 1
    assert line.usd > 0
    (asked,) = [r.prompt for r in fake.requests if r.schema_name == "Audience"]
    written = asked.partition("Summary of the episode: ")[2].partition("\nWho")[0]
    assert "twelve white sharks" in written  # asked once the summary was written

    replay = ciagent.enrich(EPISODE, settings)  # cached: the same result, no request
    assert replay.extras == result.extras
    assert replay.cost.calls == 0


def test_a_budget_holds_a_steps_calls_too() -> None:
    fake = FakeModel(respond=answers)
    asked = Settings(model=fake, cache=False, steps=(audience,))
    cost = ciagent.enrich(EPISODE, asked).cost
    spent = cost.prompt_tokens + cost.completion_tokens
    capped = asked.model_copy(update={"episode_budget_tokens": spent - 1})
    result = ciagent.enrich(EPISODE, capped)
    assert result.status == "budget_exceeded"
    assert result.cost.prompt_tokens + result.cost.completion_tokens <= spent - 1


def test_a_plain_function_runs_off_the_event_loop() -> None:
    threads: dict[str, int] = {}

    @step("on_loop", after="chunk")
    async def on_loop(state: EnrichState, ctx: RunContext) -> None:
        threads["loop"] = threading.get_ident()

    @step("plain", after="chunk")
    def plain(state: EnrichState, ctx: RunContext) -> None:
        threads["plain"] = threading.get_ident()

    settings = Settings(cache=False, steps=(on_loop, plain))
    result = ciagent.enrich(EPISODE, settings, model=FakeModel())
    assert result.status == "complete"
    assert result.extras == {}  # None changes nothing
    assert threads["plain"] != threads["loop"]


def test_a_step_after_finalize_sees_the_result_and_may_change_it() -> None:
    @step("shout", after="finalize")
    def shout(state: EnrichState, ctx: RunContext) -> dict[str, EpisodeEnrichment]:
        result = state["result"]
        chapters = [c.model_copy(update={"title": c.title.upper()}) for c in result.chapters]
        return {"result": result.model_copy(update={"chapters": chapters})}

    @step("chapter_count", after="finalize")
    def chapter_count(state: EnrichState, ctx: RunContext) -> int:
        return len(state["result"].chapters)

    settings = Settings(cache=False, steps=(shout, chapter_count))
    result = ciagent.enrich(EPISODE, settings, model=FakeModel())
    assert result.chapters
    assert all(c.title == c.title.upper() for c in result.chapters)
    assert result.extras["chapter_count"] == len(result.chapters)


def test_a_failing_step_is_a_failure_of_its_own_and_the_rest_stands() -> None:
    @step("broken", after="merge")
    def broken(state: EnrichState, ctx: RunContext) -> Length:
        raise RuntimeError("the team's service is down")

    @step("misnamed", after="merge")
    def misnamed(state: EnrichState, ctx: RunContext) -> dict[str, int]:
        return {"words": 3}

    settings = Settings(cache=False, steps=(broken, misnamed, length))
    result = ciagent.enrich(EPISODE, settings, model=FakeModel())
    assert result.status == "partial"
    failures = {f.step: f.error for f in result.failures}
    assert failures["broken"] == "RuntimeError: the team's service is down"
    assert "returned keys that are not the run's state: ['words']" in failures["misnamed"]
    assert result.summary
    assert result.entities
    assert result.extras["length"]["words"] > 0


def test_a_step_placed_between_two_steps_is_waited_for() -> None:
    seen: list[tuple[bool, bool]] = []

    @step("between", after="verify", before="claims")
    def between(state: EnrichState, ctx: RunContext) -> None:
        seen.append(("grounding" in state, "claims" in state))

    edges = build_graph((between,)).get_graph().edges
    assert {e.source for e in edges if e.target == "claims"} == {"verify", "between"}
    assert {e.source for e in edges if e.target == "between"} == {"verify"}
    result = ciagent.enrich(EPISODE, Settings(cache=False, steps=(between,)), model=FakeModel())
    assert seen == [(True, False)]  # after verify, before claims
    assert result.claims


def test_the_built_in_steps_are_declared_the_same_way() -> None:
    graph = build_graph().get_graph()
    assert {n for n in graph.nodes if not n.startswith("__")} == {s.name for s in BUILTIN_STEPS}
    into_finalize = {e.source for e in graph.edges if e.target == "finalize"}
    assert into_finalize == {"escalate", "chapters", "episode_calls"}  # every loose end


def test_bad_places_and_names_are_config_errors() -> None:
    def run(state: EnrichState, ctx: RunContext) -> None:
        return None

    with pytest.raises(ConfigError, match="no step named 'verfy'"):
        Settings(steps=(step("late", after="verfy")(run),))
    with pytest.raises(ConfigError, match="cycle"):
        Settings(steps=(step("loop", after="finalize", before="chunk")(run),))
    with pytest.raises(ConfigError, match="'notes' runs per chunk"):
        Settings(steps=(step("early", after="chunk", before="notes")(run),))
    with pytest.raises(ConfigError, match="two steps share this name"):
        Settings(steps=(step("merge", after="chunk")(run),))
    with pytest.raises(ConfigError, match="a Python identifier"):
        step("reading level", after="chunk")(run)
    with pytest.raises(ConfigError, match="not a step"):
        Settings(steps=(run,))
    with pytest.raises(ConfigError, match="cannot load"):
        Settings(steps=("tests.test_steps:nothing",))

    @extractor("length", "Lengths.")
    class Said(BaseModel):
        words: int

    with pytest.raises(ConfigError, match="share a name"):
        Settings(steps=(length,), extractors=(Said,))


def test_a_step_named_in_a_config_file_and_its_schema(tmp_path: Path) -> None:
    config = tmp_path / "ciagent.toml"
    config.write_text('steps = ["tests.test_steps:length"]\ncache = false\n')
    settings = Settings.load(config)
    assert [s.name for s in settings.steps] == ["length"]
    result = ciagent.enrich(EPISODE, settings, model=FakeModel())
    assert result.extras["length"]["words"] > 0

    from typer.testing import CliRunner

    from ciagent.cli import app

    printed = CliRunner().invoke(app, ["schema", "--config", str(config)])
    assert printed.exit_code == 0, printed.output
    schema = json.loads(printed.output)
    assert schema["properties"]["extras"]["properties"]["length"] == {"$ref": "#/$defs/Length"}
    assert set(schema["$defs"]["Length"]["properties"]) == {"words", "sentences"}


@pytest.mark.slow
def test_a_step_asks_the_embedded_model(models_dir: Path, tmp_path: Path) -> None:
    settings = Settings(models_dir=models_dir, cache_dir=tmp_path, steps=(audience,))
    result = ciagent.enrich(EPISODE, settings)
    assert result.cost.by_step["audience"].calls >= 1
    assert result.extras["audience"]["audience"].strip(), result.extras


def test_the_places_checked_with_the_settings_are_the_graphs() -> None:
    assert {s.name: (s.after, s.per_chunk) for s in BUILTIN_STEPS} == BUILTIN_PLACES
