"""The NLP pipeline in a process of its own: `python -m ciagent.nlp_worker`.

`ciagent.nlp_pool` starts it. It loads the checked pipeline (`ciagent.nlp.load_pipeline`), says
`{"ready": true}` (or `{"error": ...}` when the pipeline cannot be loaded), then reads one JSON
request a line from standard input, `{"id": n, "texts": [...]}`, and writes one answer a line,
`{"id": n, "names": [[i, start, end, text, label], ...], "phrases": [...]}` (`i`: the text's
place in the request), or `{"id": n, "error": "..."}`. It ends when its input closes, so it
never outlives the process that started it. Texts are data: they are read, never run.
"""

from __future__ import annotations

import json
import signal
import sys
from typing import IO, Any

from ciagent.errors import ModelAssetError

__all__ = ["main"]


def _say(out: IO[str], message: dict[str, Any]) -> None:
    out.write(json.dumps(message) + "\n")
    out.flush()


def main() -> int:
    # Ctrl-C in a terminal reaches the whole process group: the parent decides, not this.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = sys.stdout
    sys.stdout = sys.stderr  # a stray print must not reach the parent as an answer
    from ciagent import nlp

    try:
        nlp.load_pipeline()
    except (ModelAssetError, OSError) as exc:
        _say(out, {"error": str(exc)})
        return 1
    _say(out, {"ready": True})
    for line in sys.stdin:
        request = json.loads(line)
        try:
            texts = request["texts"]
            if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
                raise TypeError("texts must be a list of strings")
            names, phrases = nlp.rows(texts)
            answer = {"id": request["id"], "names": names, "phrases": phrases}
        except Exception as exc:  # one request's failure is that request's answer
            answer = {"id": request.get("id"), "error": f"{type(exc).__name__}: {exc}"}
        _say(out, answer)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
