"""Extractors declared outside the package: asked of every chunk on the run's model, their spans
grounded (an invented one dropped), merged by key, cached, budgeted and counted apart."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import ciagent
from ciagent import ConfigError, EpisodeEnrichment, Settings, Span, extractor
from ciagent.llm.models import ModelSpec
from ciagent.llm.reading import reading_for
from ciagent.steps.extract import riding as riders
from ciagent.testing import FakeModel, FakeRequest, default_answer
from tests.helpers import riding, transcript_of

EPISODE = transcript_of(
    """Maya: Welcome back. Today Sarah tells us what she read on the research vessel.
Sarah: I finally read The Devil's Teeth by Susan Casey, about the Farallon sharks.
Maya: That book made a lot of people care about white sharks.
Sarah: And then a paper, Block and colleagues in Nature, on the White Shark Cafe.
Maya: We will put both in the show notes.
Sarah: The Devil's Teeth is still the one I give to students."""
)


@extractor("books", "Books and papers mentioned, with their author when it is said.", key="title")
class Book(BaseModel):
    title: str
    author: str | None = None
    evidence: list[Span]


LINE = re.compile(r"^\[(\d+)\] [^:]+: (.*)$", re.MULTILINE)


def librarian(request: FakeRequest) -> dict[str, Any] | str:
    """Every line naming a book gives one (the same title twice, once more from a line that
    does not say it: an invented span)."""
    if request.schema_name != "BooksItems":
        return default_answer(request)
    items = []
    for number, said in LINE.findall(request.prompt):
        if "Devil's Teeth" in said:
            span = {"segment_id": int(number), "text": "The Devil's Teeth"}
            items.append(
                {"title": "The Devil's Teeth", "author": "Susan Casey", "evidence": [span]}
            )
        if "paper" in said:
            invented = {"segment_id": int(number), "text": "Jaws by Peter Benchley"}
            items.append({"title": "Jaws", "author": None, "evidence": [invented]})
    return {"items": items}


def test_an_extractor_defined_here_runs_through_the_graph(tmp_path: Path) -> None:
    fake = FakeModel(respond=librarian, input_usd_per_mtok=1.0, output_usd_per_mtok=1.0)
    settings = Settings(model=fake, extractors=(Book,), cache_dir=tmp_path, extractor_calls="own")
    result = ciagent.enrich(EPISODE, settings)
    assert result.status == "complete"
    (book,) = result.extras["books"]  # Jaws cited words no line says: dropped
    assert (book["title"], book["author"]) == ("The Devil's Teeth", "Susan Casey")
    assert book["found_by"] == "model"
    first, again = book["evidence"]  # said twice: one item, both places
    assert first["segment_ids"] == [1]
    assert again["segment_ids"] == [5]
    said = EPISODE.segments[1].text
    assert said[first["char_start"] : first["char_end"]] == first["text"] == "The Devil's Teeth"
    assert (first["start"], first["end"]) == (10, 19)
    line = result.cost.by_step["extract.books"]
    assert line.calls == 1
    assert line.usd > 0
    assert result.provenance.prompt_versions["extract.books"] == "1.1"

    replay = ciagent.enrich(EPISODE, settings)  # cached: the same items, no request
    assert replay.extras == result.extras
    assert replay.cost.calls == 0


def test_without_extractors_nothing_is_asked_and_extras_stay_empty() -> None:
    fake = FakeModel(respond=librarian)
    result = ciagent.enrich(EPISODE, Settings(cache=False), model=fake)
    assert result.extras == {}
    assert not [r for r in fake.requests if r.schema_name == "BooksItems"]


def test_an_extractor_named_in_a_config_file(tmp_path: Path) -> None:
    config = tmp_path / "ciagent.toml"
    config.write_text('extractors = ["tests.test_extractors:Book"]\ncache = false\n')
    settings = Settings.load(config)
    assert [e.name for e in settings.extractors] == ["books"]
    result = ciagent.enrich(EPISODE, settings, model=FakeModel(respond=riding(librarian)))
    assert [b["title"] for b in result.extras["books"]] == ["The Devil's Teeth"]


def test_a_failed_extractor_call_is_a_failure_of_its_own() -> None:
    def broken(request: FakeRequest) -> dict[str, Any] | str:
        return "not json" if request.schema_name == "BooksItems" else default_answer(request)

    settings = Settings(extractors=(Book,), cache=False, max_reasks=0, extractor_calls="own")
    result = ciagent.enrich(EPISODE, settings, model=FakeModel(respond=broken))
    assert result.status == "partial"
    assert result.extras == {"books": []}
    assert [f.step for f in result.failures] == ["extract.books"]
    assert result.summary  # the rest of the work stands


def test_bad_declarations_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="no field 'name'"):
        extractor("people", "People.", key="name")(Book)
    with pytest.raises(ConfigError, match="no field 'person' to link by"):
        extractor("people", "People.", link="person")(Book)
    with pytest.raises(ConfigError, match="needs a reduce function"):
        extractor("shelf", "Books.", result=Book)(Book)
    with pytest.raises(ConfigError, match="not an extractor"):
        Settings(extractors=(EPISODE,))
    with pytest.raises(ConfigError, match="cannot load"):
        Settings(extractors=("tests.test_extractors:Nothing",))


@pytest.mark.slow
def test_the_embedded_model_finds_a_book_and_every_span_is_grounded(
    models_dir: Path, tmp_path: Path
) -> None:
    settings = Settings(models_dir=models_dir, cache_dir=tmp_path, extractors=(Book,))
    result = ciagent.enrich(EPISODE, settings)
    books = result.extras["books"]
    assert result.cost.by_step["extract.books"].calls == 1
    for book in books:
        for span in book["evidence"]:
            said = EPISODE.segments[span["segment_ids"][0]].text
            assert said[span["char_start"] : span["char_end"]] == span["text"]
    assert any("Devil" in book["title"] for book in books), books


def test_the_schema_says_what_each_extractor_puts_in_extras(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ciagent.cli import app

    config = tmp_path / "ciagent.toml"
    config.write_text('extractors = ["tests.test_extractors:Book"]\n')
    runner = CliRunner()
    assert "properties" not in EpisodeEnrichment.json_schema()["properties"]["extras"]
    plain = json.loads(runner.invoke(app, ["schema"]).stdout)
    built_in = plain["properties"]["extras"]["properties"]
    assert set(built_in) == {"segments", "safety", "people"}  # the built-ins, always said
    assert built_in["safety"] == {"$ref": "#/$defs/SafetyReport"}  # one object an episode
    assert built_in["people"]["items"] == {"$ref": "#/$defs/PeopleItem"}
    assert "entity" in plain["$defs"]["PeopleItem"]["properties"]  # linked to the entities
    declared = json.loads(runner.invoke(app, ["schema", "--config", str(config)]).stdout)
    assert declared["properties"]["extras"]["properties"]["books"]["items"] == {
        "$ref": "#/$defs/BooksItem"
    }
    book = declared["$defs"]["BooksItem"]
    assert book["properties"]["evidence"]["items"] == {"$ref": "#/$defs/Mention"}
    assert set(book["required"]) == {"title", "evidence", "found_by"}


def test_a_check_drops_what_the_model_gave_and_rules_and_a_result_model_join_in() -> None:
    """`confirm` keeps only the model's items that pass it; `find` adds items with no model
    call; `reduce` with `result` makes one object of them, checked by that model."""

    class Shelf(BaseModel):
        titles: list[str]
        found_by: list[str]

    def shelved(items: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "titles": sorted(item["title"] for item in items),
            "found_by": sorted({item["found_by"] for item in items}),
        }

    def paper(transcript: ciagent.Transcript) -> list[dict[str, Any]]:
        line = next(i for i, s in enumerate(transcript.segments) if "Nature" in s.text)
        return [{"title": "Nature", "evidence": [ciagent.extractors.said(transcript, line)]}]

    def by_a_woman(item: dict[str, Any], transcript: ciagent.Transcript) -> bool:
        return item["author"] == "Susan Casey" and bool(ciagent.extractors.lines(item))

    shelf = ciagent.Extractor(
        "books", Book, "Books.", reduce=shelved, find=paper, confirm=by_a_woman, result=Shelf
    )
    settings = Settings(extractors=(shelf,), cache=False)
    result = ciagent.enrich(EPISODE, settings, model=FakeModel(respond=riding(librarian)))
    assert result.extras["books"] == {
        "titles": ["Nature", "The Devil's Teeth", "The Devil's Teeth"],
        "found_by": ["model", "rules"],
    }


def test_an_extractor_rides_in_the_notes_call_where_it_fits() -> None:
    """On a model that writes JSON well, the extractor is asked inside each chunk's notes call
    (the chunk read once): the same grounded, merged items, no call of its own; asked apart
    (`extractor_calls = "own"`), one more call a chunk, each sending the chunk again."""

    def run(calls: str) -> tuple[ciagent.EpisodeEnrichment, FakeModel]:
        fake = FakeModel(respond=riding(librarian))
        settings = Settings(extractors=(Book,), cache=False, extractor_calls=calls)  # type: ignore[arg-type]
        return ciagent.enrich(EPISODE, settings, model=fake), fake

    ridden, fake = run("auto")
    own, _ = run("own")
    assert [b["title"] for b in ridden.extras["books"]] == ["The Devil's Teeth"]  # Jaws dropped
    assert ridden.extras == own.extras
    assert "extract.books" not in ridden.cost.by_step
    assert not [r for r in fake.requests if r.schema_name == "BooksItems"]
    (notes,) = [r for r in fake.requests if r.schema_name == "ChunkNotes"]
    asked = " ".join(str(m["content"]) for m in notes.messages)
    assert "books (at most 8): Books and papers mentioned" in asked
    assert own.cost.calls == ridden.cost.calls + 1
    assert own.cost.prompt_tokens > ridden.cost.prompt_tokens
    # A small model writes it badly inside JSON: its own calls
    small = Settings(extractors=(Book,), extractor_calls="auto")
    spec = ModelSpec(
        model_id="embedded/qwen2.5-coder-0.5b-instruct",
        context_window=4096,
        input_usd_per_mtok=0,
        output_usd_per_mtok=0,
    )
    assert riders(small, reading_for(small, [spec])) == ()


class Reading(BaseModel):
    favourite: str
    books: int


def reader(request: FakeRequest) -> dict[str, Any] | str:
    """Books as `librarian` gives them; the episode call answers from the items it is shown."""
    if request.schema_name == "Reading":
        shown = request.prompt.partition("Items found (")[2]
        count = int(shown.partition(")")[0])
        favourite = "The Devil's Teeth" if "The Devil's Teeth (at 10 s)" in shown else "?"
        return {"favourite": favourite, "books": count}
    if request.schema_name == "BooksItems":
        return librarian(request)
    return default_answer(request)


def test_an_episode_call_answers_for_the_whole_episode_from_the_merged_items() -> None:
    """One call after the chunks': it reads the merged, grounded items (the invented one
    dropped before), answers in the `result` shape, and is counted as `reduce.<name>`; when it
    has no valid answer, `extras[name]` is None and the failure is the episode's."""
    shelf = ciagent.Extractor(
        "books",
        Book,
        "Books and papers mentioned.",
        key="title",
        result=Reading,
        episode="The book the guests care most about, and how many books are mentioned.",
    )
    settings = Settings(extractors=(shelf,), cache=False, extractor_calls="own")
    fake = FakeModel(respond=reader)
    result = ciagent.enrich(EPISODE, settings, model=fake)
    assert result.status == "complete"
    assert result.extras["books"] == {"favourite": "The Devil's Teeth", "books": 1}
    assert result.cost.by_step["reduce.books"].calls == 1
    (asked,) = [r.prompt for r in fake.requests if r.schema_name == "Reading"]
    assert "Jaws" not in asked
    assert "extract_episode.books" in result.provenance.prompt_versions

    def mute(request: FakeRequest) -> dict[str, Any] | str:
        return "no idea" if request.schema_name == "Reading" else reader(request)

    settings = settings.model_copy(update={"max_reasks": 0})
    failed = ciagent.enrich(EPISODE, settings, model=FakeModel(respond=mute))
    assert failed.status == "partial"
    assert failed.extras["books"] is None
    assert [f.step for f in failed.failures] == ["reduce.books"]
    assert failed.summary

    with pytest.raises(ConfigError, match="needs a result model"):
        ciagent.Extractor("books", Book, "Books.", episode="The favourite.")
    with pytest.raises(ConfigError, match="cites no spans"):
        ciagent.Extractor("books", Book, "Books.", episode="The favourite.", result=Book)


def test_a_verbatim_field_must_be_said_on_the_lines_the_item_cites() -> None:
    """A title the line does not say (the model named the book after its author, or cited a
    line about something else) is dropped; one it says is kept, case aside."""

    def loose(request: FakeRequest) -> dict[str, Any] | str:
        if request.schema_name != "BooksItems":
            return default_answer(request)
        items = []
        for number, said in LINE.findall(request.prompt):
            if "Devil's Teeth" in said:
                evidence = [{"segment_id": int(number), "text": "The Devil's Teeth"}]
                items.append({"title": "the devil's teeth", "evidence": evidence})
                items.append({"title": "Susan Casey's shark book", "evidence": evidence})
        return {"items": items}

    shelf = ciagent.Extractor("books", Book, "Books.", key="title", verbatim="title")
    settings = Settings(extractors=(shelf,), cache=False, extractor_calls="own")
    result = ciagent.enrich(EPISODE, settings, model=FakeModel(respond=loose))
    assert [b["title"] for b in result.extras["books"]] == ["the devil's teeth"]
    with pytest.raises(ConfigError, match="no field 'name' said verbatim"):
        ciagent.Extractor("books", Book, "Books.", verbatim="name")


def test_a_notes_template_of_ones_own_without_extras_asks_extractors_apart(
    tmp_path: Path,
) -> None:
    """Written before extractors rode, a `prompts_dir` notes template has no `${extras}`: the
    riders' instructions would never reach the model, so each extractor has its own call."""
    from ciagent.prompts import prompts_dir

    for template in prompts_dir().glob("*.toml"):
        text = template.read_text(encoding="utf-8")
        (tmp_path / template.name).write_text(text.replace("${extras}", ""), encoding="utf-8")
    fake = FakeModel(respond=riding(librarian))
    settings = Settings(extractors=(Book,), cache=False, prompts_dir=tmp_path)
    result = ciagent.enrich(EPISODE, settings, model=fake)
    assert [b["title"] for b in result.extras["books"]] == ["The Devil's Teeth"]
    assert result.cost.by_step["extract.books"].calls == 1
