"""What the first episode of a process would otherwise wait for: the imports of the graph and the
model layer (langgraph, litellm, instructor), the tokenizer and the NLP pipeline.

`aenrich` does it in a worker thread before its first episode, so the event loop is not held by
imports; a service calls `ciagent.warmup()` at start-up (or `await asyncio.to_thread(warmup)`)
so the first request is as quick as the rest.
"""

from __future__ import annotations

import contextlib
import threading
import time

from ciagent import offload
from ciagent.settings import Settings
from ciagent.telemetry import logger

__all__ = ["warmed", "warmup"]

log = logger(__name__)
_lock = threading.Lock()
_done: set[str] = set()


def warmed(settings: Settings | None = None) -> bool:
    """Whether this process has done what `warmup(settings)` does."""
    if "imports" not in _done or not offload.started():
        return False
    ner = (settings or Settings()).ner
    return ner == "off" or "nlp" in _done or (ner == "auto" and "no-nlp" in _done)


def warmup(settings: Settings | None = None) -> float:
    """Import the graph and the model layer, load the tokenizer and, when the settings use it
    (`ner`: 'auto' with the `nlp` extra installed, or 'on'), the NLP pipeline (in its process,
    `settings.nlp_processes`, or in this one when that is 0). Once per process;
    returns the seconds it took (0 when already done). Blocking: call it at start-up, or in a
    worker thread."""
    started = time.perf_counter()
    settings = settings or Settings()
    ner, processes = settings.ner, settings.nlp_processes
    with _lock:
        offload.start()
        if "imports" not in _done:
            _import_all()
            _done.add("imports")
        if ner != "off" and "nlp" not in _done:
            from ciagent import nlp

            if nlp.in_use(ner):
                if processes:
                    from ciagent import nlp_pool

                    nlp_pool.pool(processes).start()
                else:
                    nlp.load_pipeline()
                _done.add("nlp")
            else:
                _done.add("no-nlp")
    took = time.perf_counter() - started
    if took > 0.05:
        log.info("warmed up in %.1f s", took)
    return took


def _import_all() -> None:
    import importlib

    # The entry points and the graph (langgraph and every step), by name: they import this.
    for module in ("ciagent.api", "ciagent.batch", "ciagent.graph"):
        importlib.import_module(module)
    from ciagent.llm.providers import litellm_module
    from ciagent.llm.structured import _handlers, _prepared
    from ciagent.schemas import ChunkNotes
    from ciagent.tokens import token_counter

    litellm_module()
    _handlers()  # instructor, and what it imports for a response model
    _prepared(ChunkNotes)
    token_counter()("warm up")
    # What langgraph imports on a graph's first run.
    for name in ("langchain_core.tracers.context", "langchain_core.tracers.stdout"):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
