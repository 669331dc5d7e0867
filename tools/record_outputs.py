"""Record a response cache as a file the tests replay: real model answers, no model in CI.

    CIAGENT_CACHE_DIR=/tmp/rec ciagent eval evals/golden.jsonl ../shared/datasets/qmsum/*.json
    python -m tools.record_outputs /tmp/rec/responses [--out tests/data/recorded.jsonl.gz]

Every entry of the cache folder (which should hold that one run and nothing else) is written as
one JSON line `{"key", "answer"}`, gzipped, in key order so a re-recording diffs cleanly.
`tests/test_recorded.py` loads it into a fresh cache and enriches the same episodes with the model
call path switched off: a request that is not in the recording (a prompt, schema or setting
changed since) is reported by the test, which then asks for this command to be run again.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

from ciagent.cache import CachedAnswer, ResponseCache, TextDisk

__all__ = ["load_recording", "main", "save_recording"]

RECORDING = Path(__file__).resolve().parent.parent / "tests" / "data" / "recorded.jsonl.gz"


def save_recording(cache_dir: Path, out: Path) -> int:
    """Write every valid entry of the cache at `cache_dir`; returns how many."""
    import diskcache

    rows = []
    with diskcache.Cache(str(cache_dir), disk=TextDisk) as raw:
        for key in sorted(str(k) for k in raw.iterkeys()):
            value = raw.get(key)
            if isinstance(value, str):
                answer = CachedAnswer.model_validate_json(value)
                rows.append(json.dumps({"key": key, "answer": answer.model_dump(mode="json")}))
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=9) as handle:
        handle.write("\n".join(rows) + "\n")
    return len(rows)


def load_recording(recording: Path, cache_dir: Path) -> int:
    """Fill a response cache at `cache_dir` from a recording; returns how many entries."""
    cache = ResponseCache(cache_dir)
    count = 0
    try:
        with gzip.open(recording, "rt", encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    row = json.loads(line)
                    cache.put(row["key"], CachedAnswer.model_validate(row["answer"]))
                    count += 1
    finally:
        cache.close()
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("cache_dir", type=Path, help="a response cache folder (…/responses)")
    parser.add_argument("--out", type=Path, default=RECORDING)
    args = parser.parse_args()
    count = save_recording(args.cache_dir, args.out)
    print(f"{args.out}: {count} answers, {args.out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
