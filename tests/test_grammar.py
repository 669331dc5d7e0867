from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ciagent.llm.grammar import schema_to_gbnf
from ciagent.schemas import ChunkNotes, EpisodeSummary


class Inner(BaseModel):
    flag: bool
    kind: Literal["a", "b"]


class Sample(BaseModel):
    name: str = Field(max_length=12)
    tags: list[str] = Field(min_length=1, max_length=3)
    maybe: int | None
    inner: Inner
    score: float


def test_bounds_become_bounded_repetition() -> None:
    grammar = schema_to_gbnf(Sample.model_json_schema())
    assert 'root ::= "{" space "\\"name\\""' in grammar
    assert "char{0,12}" in grammar
    assert '("," space root-tags-item){0,2}' in grammar
    assert "root-maybe-0 | root-maybe-1" in grammar
    assert '("\\"a\\"" | "\\"b\\"") space' in grammar
    # Keys appear in declaration order, as the model should write them.
    root = grammar.splitlines()[0]
    assert root.index("name") < root.index("tags") < root.index("maybe") < root.index("inner")


def test_response_schemas_convert_without_huge_expansions() -> None:
    for model in (ChunkNotes, EpisodeSummary):
        grammar = schema_to_gbnf(model.model_json_schema())
        assert len(grammar) < 4000
        assert "char{1," in grammar
