"""The test suite itself: a clone with no ../shared beside it still passes, skipping (and saying
why) the tests that read the QMSum meetings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

_PYTEST = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-m", "not slow"]
_READERS = ["tests/test_claimset.py", "tests/test_recorded.py", "tests/test_signals.py"]


def test_tests_that_read_the_shared_meetings_skip_with_a_reason_without_them(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "CIAGENT_TEST_SHARED": str(tmp_path / "no-shared-here")}
    done = subprocess.run(
        [*_PYTEST, *_READERS, "tests/test_evals.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    assert "failed" not in out.splitlines()[-1], out[-4000:]
    assert "needs the QMSum meetings at" in out, out[-4000:]
    assert "no-shared-here" in out
