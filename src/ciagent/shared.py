"""What the episodes of a batch share: a budget ledger, a router, an open response cache."""

from __future__ import annotations

from dataclasses import dataclass

from ciagent.budget import SpendLedger
from ciagent.cache import ResponseCache
from ciagent.routing.policy import Router

__all__ = ["Shared"]


@dataclass(frozen=True)
class Shared:
    """What the episodes of a batch hold in common, each optional.

    `ledger` holds the budget caps instead of the settings' ledger file (on a cluster, a proxy
    to one ledger actor: `ciagent.batch.ray`); `router` (with `model = "auto"`) shares deployment
    health and `max_concurrency` slots, within one event loop; `cache` is an open response
    cache (its owner closes it), so it is not opened and closed for each episode.
    """

    ledger: SpendLedger | None = None
    router: Router | None = None
    cache: ResponseCache | None = None
