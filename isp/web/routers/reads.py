"""Presentation helpers for router pages: circuit states, status badges."""
from __future__ import annotations

from datetime import datetime, timedelta

from isp.models import Router
from isp.models.base import utcnow
from isp.routeros import status as router_status
from isp.routeros.breaker import CLOSED, HALF_OPEN, OPEN

ONLINE_WITHIN = timedelta(minutes=2)
CIRCUIT_BADGE = {CLOSED: "ok", HALF_OPEN: "warn", OPEN: "bad"}
CIRCUIT_GAUGE = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}


def circuits(router_ids: list[int]) -> dict[int, dict]:
    """Breaker hash per router, in one Redis round trip."""
    return router_status.circuits(router_ids)


def status(router: Router, circuit: str, now: datetime | None = None) -> tuple[str, str, str]:
    """(label, badge kind, explanation) for a router's health."""
    if not router.enabled:
        return "Disabled", "off", "Workers leave disabled routers alone."
    if circuit == HALF_OPEN:
        return "Degraded", "warn", "The circuit is half-open: the next command probes the router."
    if circuit == OPEN or router.last_error:
        return "Offline", "bad", router.last_error or "The circuit is open after repeated failures."
    if router.last_seen_at is None:
        return "Never contacted", "off", "No worker has reached this router yet."
    if (now or utcnow()) - router.last_seen_at <= ONLINE_WITHIN:
        return "Online", "ok", "Answered in the last two minutes."
    return "Stale", "warn", "Not heard from in over two minutes: are the worker and clock running?"
