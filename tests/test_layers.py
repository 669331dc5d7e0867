"""The package's layers: no module imports, at import time, one that imports it back; every
module imports on its own."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted((SRC / "ciagent").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imported_at_import_time(path: Path, known: dict[str, Path]) -> set[str]:
    """The ciagent modules a module imports when it is imported: its top-level statements,
    not imports inside functions or under `if TYPE_CHECKING:`."""
    found: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if isinstance(inner, ast.ImportFrom) and inner.module and inner.level == 0:
                for alias in inner.names:
                    dotted = f"{inner.module}.{alias.name}"
                    target = dotted if dotted in known else inner.module
                    if target in known:
                        found.add(target)
            elif isinstance(inner, ast.Import):
                found |= {a.name for a in inner.names if a.name in known}
    return found


def test_no_import_cycle() -> None:
    modules = _modules()
    edges = {
        name: _imported_at_import_time(path, modules) - {name} for name, path in modules.items()
    }
    # A package imports its own modules to export them; that is not a cycle between layers.
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for target in sorted(edges[name]):
            if state.get(target) == 1:
                cycles.append(
                    [*trail[trail.index(target) :], target] if target in trail else [name, target]
                )
            elif target not in state:
                visit(target, [*trail, target])
        state[name] = 2

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])
    assert not cycles, cycles


def test_every_module_imports_on_its_own() -> None:
    """Each module in a fresh set of ciagent modules (the third-party ones stay loaded), so
    that no module works only because another was imported first."""
    names = sorted(n for n in _modules() if n != "ciagent.__main__")  # that one runs the CLI
    script = f"""
import importlib, sys
failed = []
for name in {names!r}:
    for loaded in [m for m in sys.modules if m == "ciagent" or m.startswith("ciagent.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed.append(f"{{name}}: {{exc!r}}")
print("\\n".join(failed) or "ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok", done.stdout
