"""Every code block of README.md and docs/*.md, run as written, on the fake model.

Python blocks run as scripts (top-level `await` allowed, as in a notebook), shell blocks line by
line in bash, TOML blocks are loaded as settings files and JSON blocks parsed. They run in a
folder holding the files they name (`episode.vtt`, `catalog.jsonl`, `a.toml`, ...), with the
project's `evals/`, `examples/` and `tools/` beside, and `../shared` when the clone has it.

What is changed, and only that: every model becomes a fake (`tests/docs_fake.py`, in every
process the snippets start, Ray workers included), and the few things that name a machine this
one is not are swapped for local stand-ins (`SWAPS`: a Ray cluster for a local Ray instance, 16
actors for one, a shared mount for a folder here). Commands that set up a machine, serve a model
on a GPU or take tens of minutes are not run; `NOT_RUN` names each and why, and a command that
is neither run nor listed fails the test.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from ciagent.settings import Settings
from tests.conftest import ROOT as REPO

pytestmark = pytest.mark.slow

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.S | re.M
)

# A command starting so is not run by this test, for the reason given.
NOT_RUN = {
    "make demo": "the quickstart's embedded-model run (minutes); test_embedded runs the same "
    "`ciagent enrich` on the embedded model",
    "make test": "what CI runs: this test is part of it",
    "make bench": "the benchmarks: twenty minutes on the embedded model, run by hand",
    "python -m tools.bench": "the benchmarks: minutes on the embedded model, run by hand",
    "python -m tools.record_outputs": "rewrites the recording under tests/data from a real run",
    "vllm serve": "serves a model on a GPU",
}

# What names another machine, and its stand-in here.
SWAPS = [
    ('ray.init(address="auto"', "ray.init(num_cpus=2"),
    ("--ray auto", "--ray local"),
    ("actors=16", "actors=1"),
    ("--actors 16", "--actors 1"),
    ("/shared/results", "results-cluster"),
]

_SITE = """\
import sys
sys.path.insert(0, {repo!r})
from tests.docs_fake import install
install()
"""

_RUN_PY = """\
import ast, asyncio, inspect, sys
source = open(sys.argv[1], encoding="utf-8").read()
code = compile(source, sys.argv[1], "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
scope = {"__name__": "__main__"}
if code.co_flags & inspect.CO_COROUTINE:
    asyncio.run(eval(code, scope))
else:
    exec(code, scope)
"""


@dataclass(frozen=True)
class Block:
    doc: Path
    line: int
    lang: str
    body: str

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(REPO)}:{self.line}"


def blocks(lang: str) -> list[Block]:
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for match in _FENCE.finditer(text):
            if match.group("lang") == lang:
                line = text.count("\n", 0, match.start()) + 1
                found.append(Block(doc, line, lang, textwrap.dedent(match.group("body"))))
    return found


def swapped(text: str) -> str:
    for old, new in SWAPS:
        text = text.replace(old, new)
    return text


def commands(block: Block) -> list[str]:
    """The block's commands: continuation lines joined, comments dropped."""
    joined = block.body.replace("\\\n", " ")
    lines = (re.sub(r"(^|\s)#.*$", "", line).strip() for line in joined.splitlines())
    return [line for line in lines if line]


def not_run(command: str) -> str | None:
    words = shlex.split(command)
    start = " ".join(w for w in words if "=" not in w.split("/")[0])  # VAR=... prefixes aside
    return next((why for head, why in NOT_RUN.items() if start.startswith(head)), None)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the files the snippets name, and `env` for their processes."""
    root = tmp_path_factory.mktemp("docs")
    work = root / "work"
    work.mkdir()
    for name in ("evals", "examples", "tools"):
        (work / name).symlink_to(REPO / name)
    shared = REPO.parent / "shared"
    if shared.is_dir():
        (root / "shared").symlink_to(shared)
    sample = REPO / "examples" / "long-tide-ep41.vtt"
    shutil.copy(sample, work / "episode.vtt")
    shutil.copy(REPO / "examples" / "iron-and-stone-ep12.srt", work / "episode.srt")
    shutil.copy(REPO / "examples" / "harvest-notes-ep7.txt", work / "episode.txt")
    turns = [
        {"speaker": line.split(":", 1)[0], "content": line.split(":", 1)[1].strip()}
        for line in (REPO / "tests" / "data" / "meeting.txt").read_text().splitlines()
        if ":" in line
    ]
    (work / "meeting.json").write_text(json.dumps({"meeting_transcripts": turns}))  # QMSum's shape
    (work / "episodes").mkdir()
    shutil.copy(REPO / "examples" / "harvest-notes-ep7.txt", work / "episodes" / "harvest.txt")
    shutil.copy(REPO / "tests" / "data" / "short.vtt", work / "episodes" / "short.vtt")
    (manifest,) = blocks("json")  # deploy.md's manifest line, and one more
    (work / "audio").mkdir()
    shutil.copy(REPO / "tests" / "data" / "short.vtt", work / "audio" / "kelp-41.vtt")
    extra = {"id": "harvest/7", "path": "episodes/harvest.txt"}
    (work / "catalog.jsonl").write_text(manifest.body + json.dumps(extra) + "\n")
    (work / "ciagent.toml").write_text("[ciagent]\nchunk_tokens = 1200\n")
    (work / "a.toml").write_text("[ciagent]\nchunk_tokens = 1200\n")
    (work / "b.toml").write_text("[ciagent]\nchunk_tokens = 2400\nmax_reasks = 0\n")
    (cluster,) = [b for b in blocks("toml") if b.doc.name == "deploy.md"]
    (work / "cluster.toml").write_text(cluster.body)
    site = root / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_SITE.format(repo=str(REPO)))
    (site / "run_py.py").write_text(_RUN_PY)
    bin_dir = root / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "ciagent"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m ciagent "$@"\n')
    shim.chmod(0o755)
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    (bin_dir / "python").chmod(0o755)
    return work


def _env(work: Path) -> dict[str, str]:
    root = work.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIAGENT_")}
    env.update(
        PATH=f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=f"{root / 'site'}{os.pathsep}{work}",
        CIAGENT_CACHE_DIR=str(root / "cache"),
        OPENAI_API_KEY="sk-docs-test-never-sent",
        REC=str(root / "rec"),
    )
    return env


def _run(args: list[str], work: Path, where: str) -> None:
    done = subprocess.run(
        args, cwd=work, env=_env(work), capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, (
        f"{where}: {args[-1]}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )


def test_the_documents_have_blocks_of_each_kind() -> None:
    # The extraction itself: a fence it missed would be a snippet no test runs.
    fences = sum(doc.read_text().count("```") for doc in DOCS) // 2
    kinds = ["python", "sh", "toml", "json", ""]
    assert sum(len(blocks(k)) for k in kinds) == fences
    assert len(blocks("python")) >= 8
    assert len(blocks("sh")) >= 14


@pytest.mark.parametrize("block", blocks("python"), ids=lambda b: b.where)
def test_python_blocks_run(block: Block, workdir: Path) -> None:
    script = workdir / f"snippet_{block.doc.stem}_{block.line}.py"
    script.write_text(swapped(block.body))
    _run(
        [sys.executable, str(workdir.parent / "site" / "run_py.py"), str(script)],
        workdir,
        block.where,
    )


def _sh_commands() -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for block in blocks("sh"):
        for command in commands(block):
            seen.setdefault(command, block.where)
    return [(where, command) for command, where in seen.items()]


@pytest.mark.parametrize(("where", "command"), _sh_commands(), ids=lambda v: v[:60])
def test_shell_commands_run(where: str, command: str, workdir: Path) -> None:
    if not_run(command) is not None:
        pytest.skip(f"not run: {not_run(command)}")
    if "../shared" in command and not (workdir.parent / "shared").exists():
        pytest.skip("needs ../shared beside the clone (the QMSum meetings)")
    line = swapped(command).replace("/tmp/rec", "$REC")
    _run(["bash", "-c", f"set -euo pipefail; {line}"], workdir, where)


@pytest.mark.parametrize("block", blocks("toml"), ids=lambda b: b.where)
def test_toml_blocks_are_valid_settings(block: Block, tmp_path: Path) -> None:
    tomllib.loads(block.body)
    path = tmp_path / "ciagent.toml"
    path.write_text(block.body)
    Settings.load(path, env={})  # a ConfigError names what is wrong


@pytest.mark.parametrize("block", blocks("json"), ids=lambda b: b.where)
def test_json_blocks_parse(block: Block) -> None:
    for line in block.body.splitlines():
        json.loads(line)


def test_every_reason_not_to_run_a_command_still_applies_to_one() -> None:
    # NOT_RUN lists exceptions only: one matching no command of the documents is stale.
    commands = [c for _, c in _sh_commands()]
    for head in NOT_RUN:
        assert any(not_run(c) == NOT_RUN[head] for c in commands), head
