"""Extractors ciagent ships, written with the public extractor API only (`ciagent.extractors`):
name them in `Settings(extractors=...)` like any of your own, e.g.
`extractors = ["ciagent.signals.segments:ContentSegment"]`.

- `segments` (`ciagent.signals.segments:ContentSegment`): sponsor reads, promotion, intro and
  outro, with their times, for players that skip them;
- `safety` (`ciagent.signals.safety:SafetyFlag`): passages a moderation team labels, each with
  its severity, and the episode's rating;
- `people` (`ciagent.signals.people:Participant`): the hosts, guests and producers of the
  episode, linked to its entities.
"""

from __future__ import annotations

from importlib import import_module

from ciagent.extractors import Extractor, as_extractor

__all__ = ["BUILT_IN", "built_in"]

BUILT_IN = {
    "segments": "ciagent.signals.segments:ContentSegment",
    "safety": "ciagent.signals.safety:SafetyFlag",
    "people": "ciagent.signals.people:Participant",
}


def built_in(*names: str) -> tuple[Extractor, ...]:
    """The built-in extractors named (all of them when none is)."""
    chosen = []
    for name in names or tuple(BUILT_IN):
        module, attribute = BUILT_IN[name].split(":")
        chosen.append(as_extractor(getattr(import_module(module), attribute)))
    return tuple(chosen)
