"""The routing policy: cheapest healthy deployment that fits, fallback in cost order, cooldown."""

from __future__ import annotations

from pathlib import Path

import pytest

import ciagent
from ciagent import ConfigError, Settings
from ciagent.llm.backend import CallTag
from ciagent.routing.policy import Router
from ciagent.routing.registry import Deployment, GpuPrice, Tier, TokenPrice
from tests.servers import fault_proxy

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def deployment(name: str, price_in: float, price_out: float, **extra: object) -> Deployment:
    fields: dict[str, object] = {"model": f"hosted_vllm/{name}", "context_window": 8192, **extra}
    return Deployment(
        name=name,
        price=TokenPrice(input_usd_per_mtok=price_in, output_usd_per_mtok=price_out),
        **fields,  # type: ignore[arg-type]
    )


def test_cheapest_first_and_needs_filter() -> None:
    vllm = Deployment(
        name="vllm",
        model="hosted_vllm/q",
        context_window=32768,
        tier=Tier.SMALL,
        price=GpuPrice(gpu_hour_usd=2.0, tokens_per_second=2000, prompt_tokens_per_second=20000),
    )
    mini = deployment("mini", 0.15, 0.6, tier=Tier.MEDIUM, context_window=128000)
    big = deployment("big", 2.5, 10.0, tier=Tier.FRONTIER, context_window=128000)
    router = Router([big, mini, vllm])
    assert [r.deployment.name for r in router.routes("s")] == ["vllm", "mini", "big"]
    assert [r.deployment.name for r in router.routes("s", min_tier=Tier.MEDIUM)] == ["mini", "big"]
    assert [r.deployment.name for r in router.routes("s", tokens=50000)] == ["mini", "big"]
    reasons = [d.reason for d in router.decisions if d.outcome == "skipped"]
    assert "tier small below medium" in reasons
    assert "context 32768 < 50000 tokens" in reasons


def test_failing_deployment_is_cooled_down_then_tried_again() -> None:
    now = [0.0]
    cheap, dear = deployment("cheap", 0.1, 0.1), deployment("dear", 1.0, 1.0)
    router = Router([cheap, dear], failures_to_cool=2, cooldown_s=30, clock=lambda: now[0])
    router.failed("s", "cheap", "500")
    assert router.routes("s")[0].deployment.name == "cheap"  # one failure: still first
    router.failed("s", "cheap", "500")
    assert [r.deployment.name for r in router.routes("s")] == ["dear", "cheap"]  # cooled: last
    now[0] = 31.0
    assert router.routes("s")[0].deployment.name == "cheap"  # rested
    router.succeeded("s", "cheap", "ok")
    assert any("cooled down for 30 s" in d.reason for d in router.decisions)


def test_auto_needs_deployments() -> None:
    with pytest.raises(ConfigError, match="at least one"):
        ciagent.enrich(EXAMPLES / "harvest-notes-ep7.txt", Settings(model="auto"))


def test_routes_to_the_cheaper_server_and_falls_back_when_it_fails(upstream: str) -> None:
    with fault_proxy(upstream, 1.0, "--faults", "server_error") as broken:
        cheap = deployment("cheap", 0.1, 0.4, api_base=f"{upstream}/v1")
        dear = deployment("dear", 3.0, 15.0, api_base=f"{upstream}/v1")
        episode = EXAMPLES / "long-tide-ep41.vtt"
        settings = Settings(
            model="auto",
            deployments=(cheap, dear),
            cache=False,
            chunk_tokens=400,
            chunk_overlap_tokens=0,
            concurrency=1,
        )
        healthy = ciagent.enrich(episode, settings)
        assert set(healthy.cost.by_model) == {"hosted_vllm/cheap"}
        assert {d.deployment for d in healthy.cost.routing if d.outcome == "chosen"} == {"cheap"}

        broken_cheap = deployment("cheap", 0.1, 0.4, api_base=f"{broken}/v1")
        settings = settings.model_copy(
            update={"deployments": (broken_cheap, dear), "max_retries": 1}
        )
        result = ciagent.enrich(episode, settings)
    assert result.status == "complete"
    chosen = [d for d in result.cost.routing if d.outcome == "chosen"]
    failed = [d for d in result.cost.routing if d.outcome == "failed"]
    assert {d.deployment for d in chosen} == {"dear"}
    assert chosen[0].reason.startswith("fallback")  # the cheap one failed first
    assert chosen[-1].reason == "cheapest healthy"  # once it is cooled down
    # Two failures cool the cheap deployment down: later calls go straight to the other one.
    assert [d.deployment for d in failed] == ["cheap", "cheap"]
    assert "cooled down" in failed[-1].reason
    assert len(chosen) > 2


def test_escalation_asks_for_a_stronger_tier() -> None:
    from ciagent.llm.routed import RoutedClient
    from ciagent.llm.usage import UsageMeter
    from ciagent.prompts import load_prompt
    from ciagent.schemas import EpisodeSummary
    from ciagent.testing import FakeModel

    small = FakeModel(respond=lambda request: {"summary": "From the small tier."})
    frontier = FakeModel(respond=lambda request: {"summary": "From the frontier tier."})
    deployments = (
        deployment("small", 0.1, 0.1, model=small.model_id, backend=small),
        deployment(
            "frontier", 5.0, 15.0, model=frontier.model_id, backend=frontier, tier=Tier.FRONTIER
        ),
    )
    settings = Settings(model="auto", deployments=deployments, cache=False)
    client = RoutedClient(settings, Router(deployments), UsageMeter())
    prompt = load_prompt("episode_summary")

    async def ask(tier: Tier) -> str:
        answer = await client.structured(
            CallTag("s"), prompt, EpisodeSummary, min_tier=tier, notes="x"
        )
        return answer.summary

    import asyncio

    assert asyncio.run(ask(Tier.SMALL)) == "From the small tier."
    assert asyncio.run(ask(Tier.FRONTIER)) == "From the frontier tier."
    assert [d.deployment for d in client.router.decisions if d.outcome == "chosen"] == [
        "small",
        "frontier",
    ]


def test_near_the_cap_a_cheaper_deployment_takes_the_call(tmp_path: Path) -> None:
    import asyncio

    from ciagent.budget import BudgetGuard, Cap, Ledger
    from ciagent.llm.routed import RoutedClient
    from ciagent.llm.usage import UsageMeter
    from ciagent.prompts import load_prompt
    from ciagent.schemas import EpisodeSummary
    from ciagent.testing import FakeModel

    cheap = FakeModel(respond=lambda request: {"summary": "Cheap answer."})
    dear = FakeModel(respond=lambda request: {"summary": "Dear answer."})
    deployments = (
        deployment("cheap", 0.01, 0.01, model=cheap.model_id, backend=cheap),
        deployment("dear", 50.0, 150.0, model=dear.model_id, backend=dear, tier=Tier.FRONTIER),
    )
    budget = BudgetGuard(Ledger(tmp_path / "ledger.sqlite"), [Cap("run:x", usd=0.01)])
    settings = Settings(model="auto", deployments=deployments, cache=False)
    client = RoutedClient(settings, Router(deployments), UsageMeter(), budget=budget)
    prompt = load_prompt("episode_summary")
    answer = asyncio.run(
        client.structured(CallTag("s"), prompt, EpisodeSummary, min_tier=Tier.FRONTIER, notes="x")
    )
    assert answer.summary == "Cheap answer."  # the frontier call would cross the cap
    reasons = [(d.deployment, d.outcome, d.reason) for d in client.router.decisions]
    assert ("dear", "skipped", "over budget (run:x usd): degrading") in reasons
    assert reasons[-1] == ("cheap", "chosen", "degraded: cheaper, within the budget")
    assert dear.requests == []


def test_spill_goes_to_the_next_deployment_when_one_is_full() -> None:
    import asyncio

    from ciagent.llm.routed import RoutedClient
    from ciagent.llm.usage import UsageMeter
    from ciagent.prompts import load_prompt
    from ciagent.schemas import EpisodeSummary
    from ciagent.testing import FakeModel

    busy, spare = FakeModel(), FakeModel()
    deployments = (
        deployment("busy", 0.1, 0.1, model=busy.model_id, backend=busy, max_concurrency=1),
        deployment("spare", 1.0, 1.0, model=spare.model_id, backend=spare),
    )
    settings = Settings(model="auto", deployments=deployments, cache=False)
    router = Router(deployments, overflow="spill")
    client = RoutedClient(settings, router, UsageMeter())
    prompt = load_prompt("episode_summary")

    async def both() -> None:
        async with router.slot("busy"):  # the cheap deployment is at its limit
            await client.structured(CallTag("s"), prompt, EpisodeSummary, notes="Part 1: x")
        await client.structured(CallTag("s"), prompt, EpisodeSummary, notes="Part 1: y")

    asyncio.run(both())
    assert len(spare.requests) == 1
    assert len(busy.requests) == 1
    assert any(d.reason.startswith("at max_concurrency") for d in router.decisions)


def test_step_tiers_start_a_step_on_a_stronger_tier_when_one_is_deployed() -> None:
    from ciagent.llm.routed import floor_tier, step_tier_lines
    from ciagent.testing import FakeModel

    small, frontier = FakeModel(), FakeModel()
    deployments = (
        deployment("small", 0.1, 0.1, model=small.model_id, backend=small),
        deployment(
            "frontier", 5.0, 15.0, model=frontier.model_id, backend=frontier, tier=Tier.FRONTIER
        ),
    )
    settings = Settings(
        model="auto",
        deployments=deployments,
        cache=False,
        step_tiers={"chapters": "medium"},  # type: ignore[dict-item]
    )
    sample = EXAMPLES / "long-tide-ep41.vtt"
    result = ciagent.enrich(sample, settings)
    chosen = {d.step: d.deployment for d in result.cost.routing if d.outcome == "chosen"}
    assert chosen["chapters"] == "frontier"
    assert all(chosen[step] == "small" for step in chosen if step.startswith("notes"))
    # no medium deployment: the one above serves; nothing above: the highest there is
    assert floor_tier(deployments, Tier.MEDIUM) == Tier.MEDIUM
    assert floor_tier(deployments[:1], Tier.MEDIUM) == Tier.SMALL
    assert step_tier_lines(settings) == ["step chapters: tier medium and up, first frontier"]
    one = Settings(model=small, step_tiers={"summary": "medium"})  # type: ignore[dict-item]
    assert "one model" in step_tier_lines(one)[0]
    with pytest.raises(ConfigError):
        Settings.load(None, {}, step_tiers={"notes": "medium"})
