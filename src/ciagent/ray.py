"""Many episodes on a Ray cluster, at the name the docs use: `ciagent.batch.ray` is where it
lives (the batch package: sources, runner, store, and this)."""

from __future__ import annotations

from ciagent.batch.ray import ActorLedger, BudgetLedger, map_enrich, run_batch

__all__ = ["ActorLedger", "BudgetLedger", "map_enrich", "run_batch"]
