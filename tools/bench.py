"""Every benchmark, one after another: `make bench` (about twenty minutes on 2 cores).

    python -m tools.bench

Figures are ratios measured within one run on this machine, against the latency-simulating
server on 127.0.0.1 (tools/fake_openai_server.py) unless a model is named. See
docs/benchmarks.md for what each measures and the figures recorded.
"""

from __future__ import annotations

import time

from tools import bench_batch, bench_decoding, bench_embedded, bench_tokens

__all__ = ["main"]


def main() -> None:
    for title, run in (
        ("prompt tokens per transcript token", bench_tokens.main),
        ("batch efficiency, orchestration overhead, cache replay", bench_batch.main),
        ("embedded model speed, peak memory", bench_embedded.main),
        ("constrained decoding and batching on the embedded model", bench_decoding.main),
    ):
        print(f"== {title}", flush=True)
        started = time.perf_counter()
        run()
        print(f"   ({time.perf_counter() - started:.0f} s)\n", flush=True)


if __name__ == "__main__":
    main()
