"""Through real HTTP: an OpenAI-compatible server behind a fault-injecting proxy, reached through
litellm's hosted_vllm/ provider exactly as a vLLM deployment would be."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import httpx
import pytest

import ciagent
from ciagent import EpisodeEnrichment, Settings
from ciagent.routing.registry import Deployment, GpuPrice, TokenPrice
from ciagent.steps.names import PRODUCER
from tests.helpers import assert_grounded
from tests.servers import fault_proxy, serve

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def deployment(name: str, base: str) -> Deployment:
    return Deployment(
        name=name,
        model="hosted_vllm/fake",
        api_base=f"{base}/v1",
        context_window=32768,
        price=TokenPrice(input_usd_per_mtok=0.2, output_usd_per_mtok=0.8),
    )


def test_episode_through_an_openai_compatible_server(upstream: str) -> None:
    settings = Settings(model="vllm", deployments=(deployment("vllm", upstream),), cache=False)
    result = ciagent.enrich(EXAMPLES / "long-tide-ep41.vtt", settings)
    assert result.status == "complete"
    assert result.provenance.models == ["hosted_vllm/fake", PRODUCER]
    assert result.cost.usd > 0
    assert {"Sarah Chen", "Guadalupe Island"} <= {e.name for e in result.entities}


def test_twenty_episodes_complete_through_twenty_percent_faults(
    upstream: str, tmp_path: Path
) -> None:
    with fault_proxy(upstream, 0.2, "--seed", "11", "--hang-s", "5") as proxy:
        settings = Settings(
            model="flaky",
            deployments=(deployment("flaky", proxy),),
            cache=False,
            timeout_s=1.5,
            max_retries=8,
            max_reasks=3,
            chunk_tokens=300,
            chunk_overlap_tokens=0,
            concurrency=8,
        )
        episodes = [EXAMPLES / "long-tide-ep41.vtt", EXAMPLES / "harvest-notes-ep7.txt"] * 10
        results = [ciagent.enrich(path, settings) for path in episodes]
        stats = httpx.get(proxy + "/stats").json()
    assert sum(v for k, v in stats.items() if k != "passed") > 10  # faults really happened
    assert {k for k in stats if k != "passed"} >= {"rate_limit", "server_error", "drop"}
    for result in results:
        assert result.status == "complete", result.failures
        EpisodeEnrichment.model_validate_json(result.to_json())
    assert sum(r.cost.by_step["notes"].retries for r in results) > 0


@pytest.mark.slow
def test_embedded_model_behind_llama_cpp_server(data_dir: Path, models_dir: Path) -> None:
    """The vLLM stand-in: llama.cpp's OpenAI-compatible server, reached through hosted_vllm/."""
    command = ["tools/llama_server.py", "--port", "{port}", "--models-dir", str(models_dir)]
    with serve(command, "/v1/models", ready_s=180) as base:
        llama = Deployment(
            name="llama",
            model="hosted_vllm/qwen2.5-coder-0.5b-instruct",
            api_base=f"{base}/v1",
            context_window=8192,
            structured_output="json_object_schema",
            price=GpuPrice(gpu_hour_usd=0.1, tokens_per_second=20, prompt_tokens_per_second=175),
        )
        path = data_dir / "short.vtt"
        settings = Settings(model="llama", deployments=(llama,), cache=False, max_output_tokens=512)
        result = ciagent.enrich(path, settings)
    assert result.status == "complete", result.failures
    assert result.entities
    assert_grounded(result, ciagent.load_transcript(path))
    assert result.cost.calls >= 1
    assert result.cost.usd > 0


def test_api_key_reaches_the_server_but_nothing_else(
    upstream: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-live-ciagent-0123456789abcdef0123"
    monkeypatch.setenv("CIAGENT_TEST_PROVIDER_KEY", secret)
    caplog.set_level(logging.DEBUG)
    hosted = deployment("hosted", upstream).model_copy(
        update={"api_key_env": "CIAGENT_TEST_PROVIDER_KEY"}
    )
    settings = Settings(model="hosted", deployments=(hosted,), cache_dir=tmp_path, budget_usd=1.0)
    result = ciagent.enrich(EXAMPLES / "harvest-notes-ep7.txt", settings)
    again = ciagent.enrich(EXAMPLES / "harvest-notes-ep7.txt", settings)  # from the cache
    assert result.status == again.status == "complete"
    assert again.cost.calls == 0
    seen = httpx.get(f"{upstream}/seen-keys").json()
    assert hashlib.sha256(secret.encode()).hexdigest() in seen  # the server got the key
    stored = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert stored  # the cache and the ledger are there
    for leak in (stored.decode(errors="replace"), result.to_json(), caplog.text):
        assert secret not in leak
        assert secret[-12:] not in leak


def test_a_missing_key_is_a_config_error(upstream: str, tmp_path: Path) -> None:
    hosted = deployment("hosted", upstream).model_copy(
        update={"api_key_env": "CIAGENT_TEST_UNSET_KEY"}
    )
    with pytest.raises(ciagent.ConfigError, match=r"\$CIAGENT_TEST_UNSET_KEY, which is not set"):
        ciagent.enrich(
            EXAMPLES / "harvest-notes-ep7.txt",
            Settings(model="hosted", deployments=(hosted,), cache_dir=tmp_path),
        )


def test_enrich_against_a_server_that_is_down_fails_at_once_naming_it(tmp_path: Path) -> None:
    import time

    from typer.testing import CliRunner

    from ciagent.cli import app

    config = tmp_path / "ciagent.toml"
    config.write_text(
        'model = "vllm"\n\n[[deployments]]\nname = "vllm"\nmodel = "hosted_vllm/x"\n'
        'api_base = "http://127.0.0.1:9/v1"\ncontext_window = 32768\n'
        "price = { input_usd_per_mtok = 0.2, output_usd_per_mtok = 0.8 }\n",
        encoding="utf-8",
    )
    started = time.perf_counter()
    episode = str(EXAMPLES / "harvest-notes-ep7.txt")
    result = CliRunner().invoke(app, ["enrich", episode, "-c", str(config), "--no-cache"])
    assert result.exit_code == 1
    assert "the model server at http://127.0.0.1:9/v1 is down (ConnectError)" in result.output
    assert "ssl" not in result.output.lower()
    assert time.perf_counter() - started < 10
