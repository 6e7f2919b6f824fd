"""Read-side helpers for router pages: breaker states, status badges, sites, recent commands."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from isp.extensions import db, redis_store
from isp.models import Router, RouterCommand
from isp.models.base import utcnow
from isp.routeros.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker

ONLINE_WITHIN = timedelta(minutes=2)
CIRCUIT_BADGE = {CLOSED: "ok", HALF_OPEN: "warn", OPEN: "bad"}
CIRCUIT_GAUGE = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}


def breaker() -> CircuitBreaker:
    """The breaker as the workers configure it."""
    return CircuitBreaker.from_config(redis_store.client, current_app.config)


def circuits(router_ids: list[int]) -> dict[int, dict]:
    """Breaker hash per router (one Redis call each, so keep it to a page of routers)."""
    b = breaker()
    return {router_id: b.state(router_id) for router_id in router_ids}


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


def sites() -> list[str]:
    """Distinct non-empty sites, for the filter."""
    return list(db.session.scalars(select(Router.site).where(Router.site != "").distinct().order_by(Router.site)))


def recent_commands(router_id: int, limit: int = 20) -> list[RouterCommand]:
    """The router's latest outbox rows, newest first (one query)."""
    return list(db.session.scalars(
        select(RouterCommand).where(RouterCommand.router_id == router_id).order_by(RouterCommand.id.desc()).limit(limit)))
