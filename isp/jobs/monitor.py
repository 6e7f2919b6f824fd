"""Metrics polling: the latest resources of each router go to Redis for the pages."""
from __future__ import annotations

import logging

from librouteros.api import Api
from sqlalchemy import select

from isp import dispatch
from isp.extensions import db
from isp.models import Router, RouterMode
from isp.models.base import utcnow
from isp.routeros import status
from isp.routeros.runtime import RouterUnavailable, guarded
from isp.services import reconcile
from isp.units import router_duration

log = logging.getLogger(__name__)


def poll_all() -> int:
    """Queue one low-priority poll per enabled router, skipping routers whose poll is still queued."""
    ids = db.session.scalars(select(Router.id).where(Router.enabled.is_(True)))
    return dispatch.enqueue_once(dispatch.POLL_ROUTER, {f"poll-{i}": (i,) for i in ids})


def _read_resources(api: Api) -> tuple[dict, str]:
    return next(iter(api("/system/resource/print")), {}), next(iter(api("/system/identity/print")), {}).get("name", "")


def poll_router(router_id: int) -> str:
    """Read /system/resource through the pool; doubles as the breaker's recovery probe."""
    router = db.session.get(Router, router_id)
    if router is None or not router.enabled:
        return "skipped"
    try:
        resource, identity = guarded(router, _read_resources, count=2)
    except RouterUnavailable as exc:
        if exc.error is not None:
            router.last_error = str(exc.error)
            db.session.commit()
        return exc.message
    was_down = bool(router.last_error)
    before = status.latest_metrics(router.id)
    metrics = {
        "cpu_load": resource.get("cpu-load"), "free_memory": resource.get("free-memory"),
        "total_memory": resource.get("total-memory"), "uptime": str(resource.get("uptime", "")),
        "version": str(resource.get("version", "")), "board": str(resource.get("board-name", "")),
    }
    status.store_metrics(router.id, metrics)
    router.identity, router.version, router.board = identity, metrics["version"], metrics["board"]
    router.last_seen_at, router.last_error = utcnow(), ""
    rebooted = before is not None and router_duration(metrics["uptime"]) < router_duration(str(before.get("uptime", "")))
    if (was_down or rebooted) and router.mode == RouterMode.api:
        # A router back from down, or rebooted (perhaps reset or replaced), may have lost what we pushed.
        reconcile.request_sync(router, reason="rebooted" if rebooted else "back online")
    db.session.commit()
    return "ok"
