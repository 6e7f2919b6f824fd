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
from isp.routeros import stats
from isp.routeros.client import RouterSpec, classify
from isp.routeros.pool import PoolExhausted

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
    from rq.job import Job

    from isp.jobs.outbox import ALIVE

    ids = list(db.session.scalars(select(Router.id).where(Router.enabled.is_(True))))
    jobs = Job.fetch_many([f"poll-{router_id}" for router_id in ids], connection=redis_store.client) if ids else []
    q = queues.queue("low")
    queued = 0
    for router_id, job in zip(ids, jobs):
        if job is not None and job.get_status(refresh=False) in ALIVE:
            continue
        q.enqueue(poll_router, router_id, job_id=f"poll-{router_id}", job_timeout=30, result_ttl=60, ttl=60)
        queued += 1
    return queued


def poll_router(router_id: int) -> str:
    """Read /system/resource through the pool; doubles as the breaker's recovery probe."""
    router = db.session.get(Router, router_id)
    if router is None or not router.enabled:
        return "skipped"
    breaker = runtime.breaker()
    if not breaker.allow(router.id).allowed:
        return "circuit open"
    spec = RouterSpec.from_model(router)
    started = time.perf_counter()
    try:
        with runtime.pool().connection(spec) as conn:
            resource = next(iter(conn.api("/system/resource/print")), {})
            identity = next(iter(conn.api("/system/identity/print")), {}).get("name", "")
    except PoolExhausted:
        return "pool busy"
    except Exception as exc:  # noqa: BLE001 - any failure counts against the router
        error = classify(exc)
        breaker.failure(router.id, error.message)
        stats.record(redis_store.client, router.id, False, time.perf_counter() - started, str(error))
        router.last_error = str(error)
        db.session.commit()
        return f"failed: {error}"
    elapsed = time.perf_counter() - started
    breaker.success(router.id)
    stats.record(redis_store.client, router.id, True, elapsed, count=2)
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
