"""Monitoring jobs: the per-router poll (samples, interfaces, log tail), live traffic while watched, rollups."""
from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from librouteros.api import Api
from sqlalchemy import select

from isp import dispatch
from isp.extensions import db, redis_store
from isp.models import Router, RouterMode
from isp.models.base import utcnow
from isp.models.monitoring import RouterInterface
from isp.routeros import status
from isp.routeros.runtime import RouterUnavailable, guarded
from isp.services import alerts, metrics_store, monitor_ingest, monitor_poll, monitor_rollup, reconcile
from isp.units import router_duration

log = logging.getLogger(__name__)
MAX_STEPS = 200  # bounded work per rollup run (each step is its own short transaction)


def poll_all() -> int:
    """Queue one low-priority poll per enabled router, skipping routers whose poll is still queued."""
    ids = db.session.scalars(select(Router.id).where(Router.enabled.is_(True)))
    return dispatch.enqueue_once(dispatch.POLL_ROUTER, {f"poll-{i}": (i,) for i in ids})


def poll_router(router_id: int, now: float | None = None) -> str:
    """Read a router's resources, health, interfaces, session counts, queues and log in one guarded call and store them.

    Doubles as the breaker's recovery probe. `now` (epoch seconds) is for tests on a frozen simulator clock.
    """
    router = db.session.get(Router, router_id)
    if router is None or not router.enabled:
        return "skipped"
    prev = monitor_ingest.previous(router.id)
    after = monitor_ingest.log_after(prev)
    try:
        reading = guarded(router, lambda api: monitor_poll.read(api, after), count=len(monitor_poll.commands(after)))
    except RouterUnavailable as exc:
        if exc.error is not None:
            router.last_error = str(exc.error)
            db.session.commit()
        return exc.message
    now = time.time() if now is None else now
    was_down = bool(router.last_error)
    before = status.latest_metrics(router.id)
    resource = reading.resource
    result = monitor_ingest.ingest(router.id, reading, now, prev)
    metrics = {
        "cpu_load": reading.cpu, "free_memory": monitor_poll._int(resource.get("free-memory")),
        "total_memory": monitor_poll._int(resource.get("total-memory")), "memory": reading.memory,
        "uptime": str(resource.get("uptime", "")), "version": str(resource.get("version", "")),
        "board": str(resource.get("board-name", "")), "temperature": reading.health.get("temperature"),
        "voltage": reading.health.get("voltage"), "ppp_active": reading.ppp_active,
        "hotspot_active": reading.hotspot_active, "queue_rx_bps": reading.queue_rx_bps,
        "queue_tx_bps": reading.queue_tx_bps, "ts": now,
    }
    status.store_metrics(router.id, metrics)
    router.identity = reading.identity or router.identity
    router.version, router.board = metrics["version"], metrics["board"]
    router.last_seen_at, router.last_error = utcnow(), ""
    rebooted = result["rebooted"] or (
        before is not None and router_duration(metrics["uptime"]) < router_duration(str(before.get("uptime", ""))))
    if (was_down or rebooted) and router.mode == RouterMode.api:
        # A router back from down, or rebooted (perhaps reset or replaced), may have lost what we pushed.
        reconcile.request_sync(router, reason="rebooted" if rebooted else "back online")
    db.session.flush()
    alerts.evaluate_router(router.id, now=datetime.fromtimestamp(now, UTC))
    db.session.commit()
    result["publish"]()
    return "ok"


def live_traffic(router_id: int) -> str:
    """One /interface/monitor-traffic read of a watched router's interfaces, kept in Redis for the live graph."""
    if not metrics_store.watched(router_id):
        return "not watched"
    router = db.session.get(Router, router_id)
    if router is None or not router.enabled:
        return "skipped"
    names = list(db.session.scalars(select(RouterInterface.name).where(
        RouterInterface.router_id == router_id, RouterInterface.present.is_(True),
        RouterInterface.disabled.is_(False)).order_by(RouterInterface.name)))
    if not names:
        return "no interfaces yet"

    def read(api: Api) -> list[dict]:
        return list(api.rawCmd("/interface/monitor-traffic", f"=interface={','.join(names)}", "=once="))

    try:
        rows = guarded(router, read)
    except RouterUnavailable as exc:
        return exc.message
    now = time.time()
    rates = {str(r["name"]): (int(r.get("rx-bits-per-second", 0)), int(r.get("tx-bits-per-second", 0)))
             for r in rows or [] if r.get("name")}
    pipe = redis_store.client.pipeline(transaction=False)
    metrics_store.add_live_point(pipe, router_id, now, rates, "live")
    pipe.execute()
    return "ok"


def rollup(now: float | None = None) -> dict:
    """Roll raw samples into minutes and minutes into hours, then drop what is past retention, in bounded steps."""
    now = time.time() if now is None else now
    steps = deleted = 0
    for steps in range(1, MAX_STEPS + 1):  # noqa: B007 - the count is reported
        more = monitor_rollup.rollup_step(now)
        db.session.commit()
        if not more:
            break
    for _ in range(MAX_STEPS):
        gone = monitor_rollup.retention_step(now)
        db.session.commit()
        deleted += gone
        if not gone:
            break
    return {"rollup_steps": steps, "deleted": deleted}
