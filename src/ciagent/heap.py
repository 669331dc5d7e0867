"""The heap settled while ciagent's work runs: `with settled(): ...`.

What exists when the first episode or batch starts (litellm's tables, langgraph's, pydantic's and
the NLP pipeline's import-time objects: several hundred thousand) is moved out of the cyclic
collector's sight (`gc.freeze`). An episode allocates steadily, and a full collection walks
every tracked object: one that walked the libraries held the interpreter lock, and with it the
event loop, for 200-290 ms in the middle of a run (four episodes on 2 cores), and took a
quarter of a batch client's own time per episode. The objects are still freed by reference
counting, and go back in the collector's sight when the last block in flight ends, so the host
finds its collector as it was; a host that froze objects itself keeps its own freezing.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["settled"]

_lock = threading.Lock()
_users = 0
_froze = False


@contextmanager
def settled(*, collect: bool = False) -> Iterator[None]:
    """The heap frozen for as long as the block runs (blocks in flight at once share one
    freezing). `collect`: collect the garbage first when this block freezes (a batch does: it
    runs long, and what is frozen is not collected until it ends)."""
    global _users, _froze
    with _lock:
        _users += 1
        if _users == 1 and gc.get_freeze_count() == 0:
            if collect:
                gc.collect()
            gc.freeze()
            _froze = True
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0 and _froze:
                gc.unfreeze()
                _froze = False
