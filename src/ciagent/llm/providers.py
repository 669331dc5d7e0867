"""litellm set-up for the hosted backend: the offline cost map and no telemetry.

litellm is imported once, on the first hosted call (or price lookup), never at ciagent's import.
Its own retries are asked off per call; its loggers are the host's (the CLI, a process of
ciagent's own, quiets them).
"""

from __future__ import annotations

import os
import threading
from typing import Any

__all__ = ["litellm_module"]

_lock = threading.Lock()
_state: dict[str, Any] = {}


def litellm_module() -> Any:
    """Import and configure litellm once: local cost map, no telemetry."""
    with _lock:
        if "litellm" in _state:
            return _state["litellm"]
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        os.environ.setdefault("LITELLM_LOG", "ERROR")
        import litellm

        # litellm offers these two only as globals: no usage sent anywhere, and no "Give Feedback"
        # banner printed to the host's stdout when a call fails (ciagent raises a typed error).
        litellm.telemetry = False
        litellm.suppress_debug_info = True
        _state["litellm"] = litellm
        return litellm
