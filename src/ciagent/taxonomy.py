"""Topic taxonomies: a topic mapped to the category whose key words it shares most.

A taxonomy is a TOML file of `[[categories]]`, each with `keywords` and `subcategories` (name and
keywords). `podcast` names the one shipped (`ciagent/taxonomies/podcast.toml`); any other value
is a path. A topic is scored against each subcategory by the stems it and its evidence segments
share with the subcategory's key words (double) and its category's (the topic's own words count
three times); the best scoring subcategory wins, as "Category/Subcategory", or none when nothing is
shared.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ciagent.errors import ConfigError
from ciagent.retrieval import terms

__all__ = ["Taxonomy", "load_taxonomy"]

_TOPIC_WEIGHT = 3


class _Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    keywords: list[str] = Field(default_factory=list)


class _Category(_Node):
    subcategories: list[_Node] = Field(default_factory=list)


class Taxonomy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: str
    categories: list[_Category]

    def categorize(self, topic: str, evidence: str = "") -> str | None:
        said = dict.fromkeys(terms(topic), _TOPIC_WEIGHT)
        for stem in terms(evidence):
            said.setdefault(stem, 1)
        best: tuple[int, str] | None = None
        for category in self.categories:
            broad = set(terms(" ".join(category.keywords)))
            for sub in category.subcategories or [category]:
                narrow = set(terms(" ".join(sub.keywords)))
                # A subcategory's own words weigh double its category's.
                score = sum(
                    weight * (2 if stem in narrow else 1)
                    for stem, weight in said.items()
                    if stem in narrow or stem in broad
                )
                label = category.name if sub is category else f"{category.name}/{sub.name}"
                if score > 0 and (best is None or score > best[0]):
                    best = (score, label)
        return best[1] if best else None


@lru_cache(maxsize=8)
def load_taxonomy(name: str) -> Taxonomy:
    """The shipped taxonomy `podcast`, or the taxonomy file at path `name`."""
    if name == "podcast":
        text = resources.files("ciagent").joinpath("taxonomies/podcast.toml").read_text("utf-8")
        where = "podcast"
    else:
        path = Path(name)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError("taxonomy", f"cannot read {path}: {exc}") from None
        where = str(path)
    try:
        return Taxonomy.model_validate(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ConfigError("taxonomy", f"{where}: {exc}") from None
