from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
QMSUM = ROOT.parent / "shared" / "datasets" / "qmsum"


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def examples_dir() -> Path:
    return ROOT / "examples"
