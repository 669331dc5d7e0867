from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import platformdirs
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
# The QMSum meetings lie in ../shared beside the clone (CIAGENT_TEST_SHARED names another place);
# a test that reads them skips, saying so, where they are not.
SHARED = Path(os.environ.get("CIAGENT_TEST_SHARED") or ROOT.parent / "shared")
QMSUM = SHARED / "datasets" / "qmsum"
needs_qmsum = pytest.mark.skipif(
    not QMSUM.is_dir(), reason=f"needs the QMSum meetings at {QMSUM} (../shared beside the clone)"
)

# The embedded model file (490 MB) is assembled once per machine, in the user's cache, and reused.
MODELS_DIR = platformdirs.user_cache_path("ciagent") / "models"
# Everything else a test writes under the default cache folder stays in a folder of this session's.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="ciagent-test-cache-")


@pytest.fixture(scope="session")
def upstream() -> Iterator[str]:
    """An OpenAI-compatible fake server on 127.0.0.1 (tools/fake_openai_server.py)."""
    from tests.servers import serve

    with serve(["tools/fake_openai_server.py", "--port", "{port}"], "/health") as base:
        yield base


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def examples_dir() -> Path:
    return ROOT / "examples"


@pytest.fixture
def models_dir() -> Path:
    return MODELS_DIR
