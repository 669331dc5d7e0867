"""The example notebook runs top to bottom (on a fake model, so it takes seconds)."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient


def test_quickstart_notebook_runs(examples_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIAGENT_NOTEBOOK_FAKE", "1")
    notebook = nbformat.read(examples_dir / "quickstart.ipynb", as_version=4)
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(examples_dir)}},
    )
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o for o in outputs if "text/html" in o.get("data", {})]
    assert any("entities" in o["data"]["text/html"] for o in html)  # the result's own view
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the chapter timeline
    assert any("found_by" in o["data"]["text/html"] for o in html)  # an extractor's table
    assert any("Maya Okafor" in o["data"]["text/html"] for o in html)  # the people in it
    assert os.environ["CIAGENT_NOTEBOOK_FAKE"] == "1"
