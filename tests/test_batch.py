"""Many episodes: inputs, `enrich_many`, the resumable output folder, and `ciagent batch`."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

import ciagent
from ciagent import Settings
from ciagent.batch import (
    BatchInputError,
    BatchItem,
    EpisodeRecord,
    EpisodeSource,
    ResultStore,
    read_sources,
    run_batch,
)
from ciagent.batch.sources import file_name
from ciagent.cli import app
from ciagent.testing import FakeModel, FakeRequest, default_answer
from tests.helpers import reference
from tests.servers import serve
from tests.test_servers import deployment

cli = CliRunner()


def episode_text(n: int) -> str:
    """A short episode with a word no other episode says (zq017x), to tell its calls apart."""
    return (
        f"Host: Welcome to episode {n}, code zq{n:03d}x. My guest is Dana Whitfield.\n"
        f"Dana: Thanks. We mapped kelp forests near Monterey Bay in season {n}.\n"
        "Host: What surprised you most?\n"
        "Dana: How fast the urchins came back after the storm.\n"
    )


def write_episodes(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        path = folder / f"ep{n:03d}.txt"
        path.write_text(episode_text(n), encoding="utf-8")
        paths.append(path)
    return paths


def test_a_folder_gives_every_transcript_under_it_by_relative_id(tmp_path: Path) -> None:
    write_episodes(tmp_path / "show-a", 2)
    (tmp_path / "show-b").mkdir()
    (tmp_path / "show-b" / "pilot.vtt").write_text("WEBVTT\n", encoding="utf-8")
    (tmp_path / "notes.md").write_text("not a transcript", encoding="utf-8")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.txt").write_text("A: hi", encoding="utf-8")
    ids = [s.id for s in read_sources(tmp_path)]
    assert ids == ["show-a/ep000", "show-a/ep001", "show-b/pilot"]


def test_a_manifest_keeps_metadata_and_reads_paths_beside_it(tmp_path: Path) -> None:
    write_episodes(tmp_path / "audio", 1)
    manifest = tmp_path / "catalog.jsonl"
    manifest.write_text(
        json.dumps({"id": "show/1", "path": "audio/ep000.txt", "show": "Kelp Talk", "season": 2})
        + "\n\n",
        encoding="utf-8",
    )
    (source,) = read_sources(manifest)
    assert source.id == "show/1"
    assert source.path == tmp_path / "audio" / "ep000.txt"
    assert source.metadata == {"show": "Kelp Talk", "season": 2}


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        (['{"id": "a", "path": "a.txt"}', "{not json"], ":2: not JSON"),
        (['{"id": "a"}'], ":1: needs a non-empty string path"),
        (['["a", "a.txt"]'], ":1: each line must be a JSON object"),
        (['{"id": "a", "path": "x.txt"}', '{"id": "a", "path": "y.txt"}'], "also on line 1"),
        ([], "no episodes found"),
    ],
)
def test_a_bad_manifest_is_refused_naming_the_line(
    tmp_path: Path, lines: list[str], problem: str
) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(BatchInputError, match=problem):
        read_sources(manifest)


def test_result_file_names_are_safe_and_distinct() -> None:
    assert file_name("ep001") == "ep001.json"
    unsafe = ["show/1", "show:1", "../../etc/passwd", "show 1"]
    names = [file_name(i) for i in unsafe]
    assert len(set(names)) == len(names)
    assert all("/" not in n and not n.startswith(".") for n in names)


def test_enrich_many_yields_every_episode_and_errors_do_not_stop_it(tmp_path: Path) -> None:
    paths = write_episodes(tmp_path, 5)
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    fake = FakeModel()

    async def collect() -> list[BatchItem]:
        settings = Settings(model=fake, cache=False)
        return [
            item async for item in ciagent.enrich_many([*paths, empty], settings, concurrency=2)
        ]

    items = asyncio.run(collect())
    assert sorted(i.source.id for i in items) == sorted([p.stem for p in paths] + ["empty"])
    failed = [i for i in items if i.error is not None]
    assert [i.source.id for i in failed] == ["empty"]
    assert isinstance(failed[0].error, ciagent.TranscriptError)
    assert all(
        i.result is not None and i.result.status == "complete" for i in items if i.error is None
    )


def test_a_rerun_skips_finished_episodes_and_retries_failures_only_when_asked(
    tmp_path: Path,
) -> None:
    paths = write_episodes(tmp_path / "in", 3)
    broken = tmp_path / "in" / "broken.txt"
    broken.write_bytes(b"\x00\x01binary")
    sources = read_sources(tmp_path / "in")
    fake = FakeModel()
    settings = Settings(model=fake, cache=False)
    out = tmp_path / "out"

    first = asyncio.run(run_batch(sources, out, settings, concurrency=2))
    assert (first.done, first.failed) == (3, 1)
    record = EpisodeRecord.model_validate_json((out / "ep001.json").read_text())
    assert record.id == "ep001"
    assert record.path == str(paths[1])
    (failure,) = ResultStore(out).failures().values()
    assert (failure.id, failure.error) == ("broken", "TranscriptError")
    calls = len(fake.requests)

    again = asyncio.run(run_batch(sources, out, settings))
    # The broken episode is held back, not counted as finished.
    assert (again.skipped, again.held_back, again.done, again.failed) == (3, 1, 0, 0)
    assert len(fake.requests) == calls  # nothing finished, or known to fail, is asked again

    broken.write_text(episode_text(9), encoding="utf-8")
    retried = asyncio.run(run_batch(sources, out, settings, retry_failed=True))
    assert (retried.skipped, retried.held_back, retried.done, retried.failed) == (3, 0, 1, 0)
    assert ResultStore(out).failures() == {}
    assert (out / "failures.jsonl").read_text() == ""


def test_the_run_budget_caps_the_whole_batch(tmp_path: Path) -> None:
    sources = [EpisodeSource.of(p) for p in write_episodes(tmp_path / "in", 12)]
    fake = FakeModel(input_usd_per_mtok=10.0, output_usd_per_mtok=10.0)
    cap = 0.1
    settings = Settings(model=fake, cache=False, cache_dir=tmp_path, budget_usd=cap)
    summary = asyncio.run(run_batch(sources, tmp_path / "out", settings, concurrency=2))
    assert summary.budget_reached
    assert 3 <= summary.done < 12
    assert summary.not_started > 0
    assert summary.usd <= cap
    written = sorted(p.stem for p in (tmp_path / "out").glob("*.json"))
    assert len(written) == summary.done
    failures = ResultStore(tmp_path / "out").failures()
    assert {f.error for f in failures.values()} <= {"BudgetExceeded"}


def simulated_config(folder: Path, base: str) -> Path:
    """A settings file whose only deployment is the latency-simulating server at `base`."""
    config = folder / "sim.toml"
    config.write_text(
        f"""[ciagent]
model = "sim"

[[ciagent.deployments]]
name = "sim"
model = "hosted_vllm/fake"
api_base = "{base}/v1"
context_window = 32768
price = {{ input_usd_per_mtok = 0.2, output_usd_per_mtok = 0.8 }}
""",
        encoding="utf-8",
    )
    return config


@pytest.mark.slow
def test_sigkill_half_way_then_a_rerun_finishes_all_without_redoing_any(tmp_path: Path) -> None:
    write_episodes(tmp_path / "in", 50)
    out = tmp_path / "out"
    server = ["tools/fake_openai_server.py", "--port", "{port}", "--base-ms", "80"]
    with serve([*server, "--concurrency", "4"], "/health") as base:
        command = [
            sys.executable,
            "-m",
            "ciagent",
            "batch",
            str(tmp_path / "in"),
            "--out",
            str(out),
            "--config",
            str(simulated_config(tmp_path, base)),
            "--no-cache",
            "--concurrency",
            "4",
        ]
        env = {**os.environ, "CIAGENT_CACHE_DIR": str(tmp_path / "cache")}
        first = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 240
        while len(list(out.glob("*.json"))) < 20:
            assert first.poll() is None, "the batch ended before it could be killed"
            assert time.monotonic() < deadline, "the batch made no progress"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
        finished = {p.stem for p in out.glob("*.json")}
        assert 20 <= len(finished) < 50
        for path in out.glob("*.json"):  # every file there is whole
            EpisodeRecord.model_validate_json(path.read_text(encoding="utf-8"))
        asked_before = len(httpx.get(f"{base}/prompts").json())

        rerun = subprocess.run(
            command, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=300
        )
        assert rerun.returncode == 0, rerun.stderr.decode()[-2000:]
        asked_after = httpx.get(f"{base}/prompts").json()[asked_before:]
    records = [EpisodeRecord.model_validate_json(p.read_text()) for p in out.glob("*.json")]
    assert sorted(r.id for r in records) == [f"ep{n:03d}" for n in range(50)]
    assert all(r.result.status == "complete" for r in records)
    assert not list(out.glob(".*.tmp"))  # a write cut off by the kill is cleared away
    redone = {i for i in finished if any(f"zq{i[2:]}x" in prompt for prompt in asked_after)}
    assert redone == set()  # episodes finished before the kill cost no new model calls
    assert asked_after  # and the rest were really asked


def test_an_episode_cap_stops_that_episode_only(tmp_path: Path) -> None:
    sources = [EpisodeSource.of(p) for p in write_episodes(tmp_path / "in", 4)]
    fake = FakeModel(input_usd_per_mtok=10.0, output_usd_per_mtok=10.0)
    settings = Settings(model=fake, cache=False, cache_dir=tmp_path, episode_budget_usd=0.0001)
    summary = asyncio.run(run_batch(sources, tmp_path / "out", settings, concurrency=2))
    assert not summary.budget_reached
    assert (summary.failed, summary.not_started) == (4, 0)  # every episode was tried
    failures = ResultStore(tmp_path / "out").failures()
    assert {f.error for f in failures.values()} == {"BudgetExceeded"}


@pytest.mark.parametrize("model", ["auto", "sim"])  # routed, or the deployment named
def test_max_concurrency_holds_across_the_episodes_of_a_batch(tmp_path: Path, model: str) -> None:
    sources = [EpisodeSource.of(p) for p in write_episodes(tmp_path / "in", 6)]
    with serve(
        ["tools/fake_openai_server.py", "--port", "{port}", "--base-ms", "60"], "/health"
    ) as base:
        limited = deployment("sim", base).model_copy(update={"max_concurrency": 2})
        settings = Settings(model=model, deployments=(limited,), cache=False)
        summary = asyncio.run(run_batch(sources, tmp_path / "out", settings, concurrency=4))
        load = httpx.get(f"{base}/stats").json()
    assert summary.done == 6
    assert load["most_in_flight"] == 2  # 4 episodes at once, 2 calls at most between them


def test_batch_command_exit_codes_and_resume(tmp_path: Path) -> None:
    write_episodes(tmp_path / "in", 3)
    (tmp_path / "in" / "broken.txt").write_bytes(b"\x00\x01binary")
    fake = FakeModel()
    command = ["batch", str(tmp_path / "in"), "--out", str(tmp_path / "out")]
    command += ["--model", reference(fake), "--no-cache"]

    first = cli.invoke(app, command)
    assert first.exit_code == 1, first.output  # one episode failed
    assert "broken.txt: binary file" in first.output
    assert len(list((tmp_path / "out").glob("*.json"))) == 3
    # Off a terminal (here, the runner's output) each episode gets a plain line.
    assert "ep001: complete" in first.output

    again = cli.invoke(app, command)
    assert again.exit_code == 1  # the folder still holds a failure
    assert "1 episodes failed" in again.output
    calls = len(fake.requests)
    (tmp_path / "in" / "broken.txt").write_text(episode_text(7), encoding="utf-8")
    fixed = cli.invoke(app, [*command, "--retry-failed"])
    assert fixed.exit_code == 0, fixed.output
    assert len(fake.requests) > calls
    assert len(list((tmp_path / "out").glob("*.json"))) == 4


def test_batch_command_refuses_a_bad_manifest_naming_the_line(tmp_path: Path) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"id": "a", "path": "a.txt"}\n{"id": 3, "path": "b.txt"}\n')
    result = cli.invoke(app, ["batch", str(manifest), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "m.jsonl:2: needs a non-empty string id" in result.output


def test_batch_command_exits_3_when_the_run_budget_stops_it(tmp_path: Path) -> None:
    write_episodes(tmp_path / "in", 8)
    fake = FakeModel(input_usd_per_mtok=10.0, output_usd_per_mtok=10.0)
    result = cli.invoke(
        app,
        [
            "batch",
            str(tmp_path / "in"),
            "--out",
            str(tmp_path / "out"),
            "--model",
            reference(fake),
            "--no-cache",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--budget-usd",
            "0.05",
            "--concurrency",
            "1",
        ],
    )
    assert result.exit_code == 3, result.output
    assert "budget reached" in result.output


def test_a_partial_episode_is_a_failure_kept_aside_and_finished_by_a_retry(tmp_path: Path) -> None:
    """An episode with a failed chunk is not finished: listed in failures.jsonl with what
    failed, its partial result kept under another name, the command exits 1; --retry-failed
    asks again only what failed and then writes it as finished."""
    folder = tmp_path / "in"
    folder.mkdir()
    long_episode = "\n".join(
        f"Host: Part {n} of the tour, code zq{n:03d}x, with Dana Whitfield at Monterey Bay."
        for n in range(60)
    )
    (folder / "long.txt").write_text(long_episode, encoding="utf-8")
    write_episodes(folder, 2)
    broken = {"on": True}

    def flaky(request: FakeRequest) -> object:
        if broken["on"] and request.schema_name == "ChunkNotes" and "zq003x" in request.prompt:
            raise RuntimeError("injected failure")
        return default_answer(request)

    fake = FakeModel(respond=flaky)
    config = tmp_path / "ciagent.toml"
    config.write_text(
        f'model = "{reference(fake)}"\ncache_dir = "{tmp_path / "cache"}"\n'
        "chunk_tokens = 200\nchunk_overlap_tokens = 0\nmax_retries = 0\nmax_reasks = 0\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    command = ["batch", str(folder), "--out", str(out), "--config", str(config)]
    first = cli.invoke(app, command)
    assert first.exit_code == 1, first.output
    assert not (out / "long.json").exists()
    assert (out / "long.partial.json").exists()
    assert {p.name for p in out.glob("ep*.json")} == {"ep000.json", "ep001.json"}
    (failure,) = ResultStore(out).failures().values()
    assert (failure.id, failure.error) == ("long", "PartialResult")
    assert "notes (chunk 0)" in failure.message
    asked = len(fake.requests)

    broken["on"] = False
    again = cli.invoke(app, [*command, "--retry-failed"])
    assert again.exit_code == 0, again.output
    assert (out / "long.json").exists()
    assert not (out / "long.partial.json").exists()
    assert ResultStore(out).failures() == {}
    record = EpisodeRecord.model_validate_json((out / "long.json").read_text())
    assert record.result.status == "complete"
    assert len(fake.requests) - asked <= 3  # the failed chunk again (the rest were cached)


def test_a_problem_of_the_run_stops_it_once_before_any_episode_is_marked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key not set exits 2, a model server that is down exits 1: one message each, nothing in
    failures.jsonl (a rerun then does every episode), no result file."""
    write_episodes(tmp_path / "in", 3)
    price = "price = { input_usd_per_mtok = 0.2, output_usd_per_mtok = 0.8 }"
    cases = {
        "hosted": (
            'model = "openai/gpt-4o-mini"\napi_key_env = "CIAGENT_TEST_UNSET_KEY"\n'
            "context_window = 128000\n",
            2,
            "CIAGENT_TEST_UNSET_KEY",
        ),
        "vllm": (
            'model = "hosted_vllm/x"\napi_base = "http://127.0.0.1:9/v1"\ncontext_window = 32768\n',
            1,
            "http://127.0.0.1:9/v1 is down",
        ),
    }
    monkeypatch.delenv("CIAGENT_TEST_UNSET_KEY", raising=False)
    for name, (deployment_lines, code, says) in cases.items():
        config = tmp_path / f"{name}.toml"
        config.write_text(
            f'model = "{name}"\n\n[[deployments]]\nname = "{name}"\n{deployment_lines}{price}\n',
            encoding="utf-8",
        )
        out = tmp_path / f"out-{name}"
        started = time.perf_counter()
        command = ["batch", str(tmp_path / "in"), "--out", str(out), "-c", str(config)]
        result = cli.invoke(app, command)
        assert result.exit_code == code, result.output
        assert says in result.output
        assert result.output.count("error:") == 1
        assert time.perf_counter() - started < 15
        assert not out.exists() or not list(out.iterdir())
