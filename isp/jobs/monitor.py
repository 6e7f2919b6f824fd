"""Metrics polling: the latest resources of each router go to Redis for the pages."""
from __future__ import annotations

import json
import logging
import time

from sqlalchemy import select

from isp.extensions import db, redis_store
from isp.jobs import queues, runtime
from isp.models import Router
from isp.models.base import utcnow

log = logging.getLogger(__name__)
METRICS_TTL = 300


def metrics_key(router_id: int) -> str:
    return f"isp:metrics:{router_id}"


def latest_metrics(router_id: int) -> dict | None:
    """The last polled resources of a router (for pages)."""
    raw = redis_store.client.get(metrics_key(router_id))
    return json.loads(raw) if raw else None


def poll_all() -> int:
    """Queue one low-priority poll per enabled router, skipping routers whose poll is still queued."""
    ids = db.session.scalars(select(Router.id).where(Router.enabled.is_(True)))
    return queues.enqueue_once(poll_router, "low", {i: f"poll-{i}" for i in ids}, timeout=30)


def _read_resources(api) -> tuple[dict, str]:  # noqa: ANN001
    return next(iter(api("/system/resource/print")), {}), next(iter(api("/system/identity/print")), {}).get("name", "")


def poll_router(router_id: int) -> str:
    """Read /system/resource through the pool; doubles as the breaker's recovery probe."""
    router = db.session.get(Router, router_id)
    if router is None or not router.enabled:
        return "skipped"
    try:
        resource, identity = runtime.read(router, _read_resources, count=2)
    except runtime.RouterUnavailable as exc:
        if exc.error is not None:
            router.last_error = str(exc.error)
            db.session.commit()
        return str(exc)
    metrics = {
        "at": time.time(), "cpu_load": resource.get("cpu-load"), "free_memory": resource.get("free-memory"),
        "total_memory": resource.get("total-memory"), "uptime": str(resource.get("uptime", "")),
        "version": str(resource.get("version", "")), "board": str(resource.get("board-name", "")),
    }
    redis_store.client.set(metrics_key(router.id), json.dumps(metrics), ex=METRICS_TTL)
    router.identity, router.version, router.board = identity, metrics["version"], metrics["board"]
    router.last_seen_at, router.last_error = utcnow(), ""
    db.session.commit()
    return "ok"
