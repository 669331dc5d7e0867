"""Big input and Ctrl-C: a size limit with exit 2, an interrupt that ends the run within 2 s
with exit 130, and progress lines when stderr is not a terminal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from ciagent.cli import app

ROOT = Path(__file__).resolve().parents[1]

# A process that enriches the sample on a fake model whose notes answer takes a minute.
SLOW = """
import sys, time
from ciagent.testing import FakeModel, default_answer
def slow(request):
    if request.schema_name == "ChunkNotes":
        time.sleep(60)
    return default_answer(request)
fake = FakeModel(respond=slow)
sys.argv = ["ciagent", "enrich", sys.argv[1], "--model", "__main__:fake", "--no-cache"]
from ciagent.cli import main
main()
"""


def test_a_transcript_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text("Host: hello there, and welcome.\n" * 40_000, encoding="utf-8")  # 1.2 MiB
    runner = CliRunner()
    result = runner.invoke(
        app, ["enrich", str(big)], env={"CIAGENT_MAX_TRANSCRIPT_MB": "1", "COLUMNS": "200"}
    )
    assert result.exit_code == 2
    assert "the limit is 1 MiB (setting max_transcript_mb)" in result.output


def test_ctrl_c_ends_a_run_within_two_seconds_with_130_and_says_so(tmp_path: Path) -> None:
    env = {**os.environ, "CIAGENT_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    episode = str(ROOT / "examples" / "long-tide-ep41.vtt")
    with subprocess.Popen(
        [sys.executable, "-c", SLOW, episode],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    ) as process:
        assert process.stderr is not None
        # stderr is a pipe, not a terminal: progress comes as plain lines; the first says the
        # chunks are being read (and the slow notes answer has begun).
        first = process.stderr.readline()
        assert "reading chunks: 0/" in first, first
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        started = time.monotonic()
        try:
            code = process.wait(timeout=10)
        finally:
            process.kill()
        waited = time.monotonic() - started
        said = process.stderr.read()
    assert waited < 2
    assert code == 130
    assert "interrupted" in said
