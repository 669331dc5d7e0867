"""The embedded model's speed, and ciagent's peak memory on a 10-hour audiobook transcript.

    python -m tools.bench_embedded

- tokens/s: the 0.5B embedded model (llama.cpp, all cores) reading a 1,500-token slice of a
  QMSum meeting (prompt tokens/s), then writing up to 256 tokens token by token, without drafts
  (output tokens/s); with the process's resident memory once the model is loaded;
- peak memory: a 10-hour transcript (about 90,000 words, QMSum meetings end to end) enriched in a
  fresh process against the simulated server with no latency, so the figure is ciagent's own
  (chunks, notes, alignment, verification), not a model's.
"""

from __future__ import annotations

import asyncio
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ciagent import Settings, load_transcript
from ciagent.llm.embedded import EmbeddedOptions, LocalLlama
from ciagent.llm.generation import Generation
from ciagent.textnorm import clean
from tools.simulated import ROOT, Latency, served, settings_for

__all__ = ["main", "peak_memory_mib", "ten_hour_transcript", "tokens_per_second"]

QMSUM = ROOT.parent / "shared" / "datasets" / "qmsum"
WORDS_PER_HOUR = 9000  # 150 words a minute, an audiobook narrator's pace


def _rss_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the
    process that started it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _lines() -> list[str]:
    return [
        f"{s.speaker or 'Narrator'}: {clean(s.text)}"
        for path in sorted(QMSUM.glob("*.json"))
        for s in load_transcript(path).segments
        if clean(s.text)
    ]


def tokens_per_second() -> tuple[float, float, int, float]:
    """(prompt tokens/s, output tokens/s, output tokens, peak MiB with the model loaded)."""
    settings = Settings()
    llama = LocalLlama.get(EmbeddedOptions(models_dir=settings.model_files_dir))
    lines = _lines()
    first, second = [], []
    for line in lines:
        target = first if llama.count_tokens("\n".join(first)) < 1500 else second
        target.append(line)
        if target is second and llama.count_tokens("\n".join(second)) >= 1500:
            break

    def ask(text: str, max_tokens: int) -> Generation:
        messages = [
            {"role": "system", "content": "You summarise meetings in detail."},
            {"role": "user", "content": f"Summarise this meeting at length:\n\n{text}"},
        ]
        request = llama.request(messages, {"max_tokens": max_tokens, "temperature": 0.0})
        request.drafts = False  # the model's own rate, token by token (tools/bench_decoding.py)
        return llama.engine.submit(request).result()

    ask(lines[0], 1)  # warm up: the first call allocates llama.cpp's buffers
    read = ask("\n".join(first), 1)
    written = ask("\n".join(second), 256)
    return (
        (read.prompt_tokens - read.cached_tokens) / read.read_s,
        (written.completion_tokens - 1) / written.write_s,
        written.completion_tokens,
        _rss_mib(),
    )


def ten_hour_transcript(folder: Path) -> tuple[Path, int]:
    """A plain-text transcript of about ten hours (QMSum meetings repeated end to end)."""
    lines, words = [], 0
    source = _lines()
    while words < 10 * WORDS_PER_HOUR:
        for line in source:
            lines.append(line)
            words += len(line.split()) - 1
            if words >= 10 * WORDS_PER_HOUR:
                break
    path = folder / "ten-hours.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, words


def _child(transcript: str, base: str) -> None:
    import litellm  # noqa: F401  (loaded before the baseline: it is most of it)

    from ciagent.api import aenrich

    before = _rss_mib()
    started = time.perf_counter()
    result = asyncio.run(aenrich(transcript, settings_for(base)))
    print(
        f"{before:.0f} {_rss_mib():.0f} {time.perf_counter() - started:.1f} "
        f"{result.cost.calls} {result.status}"
    )


def peak_memory_mib(transcript: Path, base: str) -> list[str]:
    """Peak resident MiB of a fresh process enriching `transcript`: once litellm and langgraph
    are loaded, and at the end; then seconds, calls and status."""
    command = [sys.executable, "-m", "tools.bench_embedded", "--child", str(transcript), base]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout.split()


def main() -> None:
    prompt_rate, output_rate, output_tokens, loaded = tokens_per_second()
    print(
        f"embedded qwen2.5-coder-0.5b (llama.cpp, Q4): {prompt_rate:.0f} prompt tokens/s, "
        f"{output_rate:.1f} output tokens/s ({output_tokens} written); "
        f"peak {loaded:.0f} MiB with the model loaded"
    )
    with tempfile.TemporaryDirectory() as folder, served(Latency()) as base:
        path, words = ten_hour_transcript(Path(folder))
        size = path.stat().st_size // 1024
        before, peak, seconds, calls, status = peak_memory_mib(path, base)
    print(
        f"10-hour transcript ({words} words, {size} KiB of text): "
        f"peak {peak} MiB ({before} MiB with the libraries loaded, before the transcript), "
        f"{calls} calls, {seconds} s, {status}"
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3])
    else:
        main()
