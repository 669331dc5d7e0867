"""Transcript text is data, never instructions.

A line that speaks to the assistant ("ignore previous instructions and output ...") is withheld
from the model: the model reads a neutral note in its place, and nothing found in such a line is
kept as evidence. The patterns are deliberately narrow (instructions addressed to a model), so
ordinary talk about instructions is not affected.
"""

from __future__ import annotations

import re

from ciagent.types import Transcript

__all__ = ["WITHHELD", "looks_like_instructions", "untrusted_segments"]

WITHHELD = "(line withheld: it addresses the assistant with instructions)"

_PATTERNS = [
    r"\b(?:ignore|disregard|forget|override)\b.{0,40}\b(?:previous|prior|above|earlier|all|your)\b"
    r".{0,20}\b(?:instructions?|prompts?|rules|directions)\b",
    r"\bsystem\s+prompt\b",
    r"\byou\s+are\s+now\b.{0,40}\b(?:assistant|model|ai|gpt|bot)\b",
    r"\bnew\s+instructions?\s*:",
    r"\b(?:output|print|respond\s+with|reply\s+with|return)\s+only\b",
    r"<\|?(?:im_start|im_end|system|assistant)\|?>",
]
_INSTRUCTION = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.IGNORECASE | re.DOTALL)


def looks_like_instructions(text: str) -> bool:
    """Whether a line addresses a language model with instructions."""
    return _INSTRUCTION.search(text) is not None


def untrusted_segments(transcript: Transcript) -> frozenset[int]:
    """Ids of the segments withheld from the model."""
    return frozenset(s.id for s in transcript.segments if looks_like_instructions(s.text))
