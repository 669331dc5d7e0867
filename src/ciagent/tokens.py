"""Token counting offline: tiktoken encodings from the files litellm ships, never a download."""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from ciagent.errors import ConfigError

__all__ = ["TokenCounter", "bundled_encoding_dir", "token_counter"]

TokenCounter = Callable[[str], int]

_lock = threading.Lock()
# tiktoken names its cached files by the sha1 of the download address.
_BUNDLED = {
    "cl100k_base": "9b5ad71b2ce5302211f9c61530b329a4922fc6a4",
    "o200k_base": "fb374d419588a4632f3f557e76b4b70aebbca790",
}


def bundled_encoding_dir() -> Path | None:
    """The folder of tiktoken files inside the installed litellm, found without importing it."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers"
    return folder if folder.is_dir() else None


@lru_cache(maxsize=4)
def _encoding(name: str) -> Any:
    import tiktoken

    if name not in _BUNDLED:
        raise ConfigError("tokenizer", f"unknown encoding {name!r}; use one of {sorted(_BUNDLED)}")
    with _lock:
        if os.environ.get("TIKTOKEN_CACHE_DIR"):
            return tiktoken.get_encoding(name)
        folder = bundled_encoding_dir()
        if folder is None or not (folder / _BUNDLED[name]).is_file():
            raise ConfigError(
                "tokenizer",
                f"the {name} encoding file is not installed (expected inside litellm); "
                "set TIKTOKEN_CACHE_DIR to a folder holding it",
            )
        os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)
        try:
            return tiktoken.get_encoding(name)
        finally:
            del os.environ["TIKTOKEN_CACHE_DIR"]


def token_counter(encoding: str = "o200k_base") -> TokenCounter:
    """A function counting the tokens of a text with the named tiktoken encoding."""
    enc = _encoding(encoding)

    def count(text: str) -> int:
        return len(enc.encode(text, disallowed_special=()))

    return count
