"""The alert engine (being built by its owner): rules evaluated over the latest samples, the pipeline and the business.

Contract used by others:
- `evaluate_router(router_id, now=None)`: the poll job calls it right after it writes a router's samples (flush only).
- `evaluate_global(now=None) -> int`: the EVALUATE_ALERTS job (every 10 s): offline routers, pipeline, business
  rules, escalation, maintenance and dependency suppression. Returns how many alerts changed state.
- `acknowledge(actor, alert_id, note) -> Alert` and `resolve(actor, alert_id, note) -> Alert`: the alert centre's
  actions (ServiceError on a bad request), audited, flush only.
"""
from __future__ import annotations

from datetime import datetime


def evaluate_router(router_id: int, now: datetime | None = None) -> None:
    """Evaluate the router-scoped rules for one router from its latest samples."""
    return None


def evaluate_global(now: datetime | None = None) -> int:
    """Evaluate every rule that is not fed by one router's poll."""
    return 0
