"""Monitoring jobs: the batched router poll (samples, interfaces, log tail), live traffic while watched, rollups."""
from __future__ import annotations

import logging
import time

from librouteros.api import Api
from sqlalchemy import select

from isp import dispatch
from isp.extensions import db, redis_store
from isp.models import Router
from isp.models.monitoring import RouterInterface
from isp.routeros.runtime import RouterUnavailable, guarded
from isp.services import metrics_store, monitor_batch, monitor_ingest, monitor_rollup

log = logging.getLogger(__name__)
BATCH_SIZE = 50   # routers per poll job (poll_all): reads run concurrently inside, writes are per batch
MAX_STEPS = 200  # bounded work per rollup run (each step is its own short transaction)


def chunks(ids: list[int], size: int | None = None) -> dict[str, tuple[list[int]]]:
    """The routers in batches by id range (`id // size`, size BATCH_SIZE), each under its job id `poll-batch-<range>`.

    A router's batch (and so its job id) depends on its own id only: adding, disabling or deleting another router never
    moves it to another job, so no router is ever polled by two jobs at once (which would read the same previous
    counters and log cursor twice, and store its log lines and link downs twice)."""
    size = size or BATCH_SIZE
    ranges: dict[int, list[int]] = {}
    for router_id in sorted(ids):
        ranges.setdefault(router_id // size, []).append(router_id)
    return {f"poll-batch-{key}": (part,) for key, part in ranges.items()}


def poll_all() -> int:
    """Queue one low-priority batch poll per chunk of enabled routers, skipping chunks still queued or running."""
    ids = list(db.session.scalars(select(Router.id).where(Router.enabled.is_(True))))
    return dispatch.enqueue_once(dispatch.POLL_BATCH, chunks(ids))


def poll_batch(router_ids: list[int], now: float | None = None) -> dict[str, int]:
    """Poll a batch of routers: reads concurrent (one guarded call each), writes and alert evaluation set-based, one
    commit, Redis pipelined. A router that is down or slow is recorded (last_error, breaker) and the rest go on.

    Doubles as the breaker's recovery probe. `now` (epoch seconds) is for tests on a frozen simulator clock.
    Returns how many routers ended each way: {"ok": n, "failed": n, "skipped": n}."""
    outcome = _poll(router_ids, now)
    counts = {"ok": 0, "failed": 0, "skipped": 0}
    for router_id in router_ids:
        result = outcome.get(router_id, "skipped")
        counts["ok" if result == "ok" else "skipped" if result == "skipped" else "failed"] += 1
    return counts


def poll_router(router_id: int, now: float | None = None) -> str:
    """One router's poll (a batch of one): "ok", "skipped" (gone or disabled) or why it could not be reached."""
    return _poll([router_id], now).get(router_id, "skipped")


def _poll(router_ids: list[int], now: float | None) -> dict[int, str]:
    routers = list(db.session.scalars(select(Router).where(Router.id.in_(sorted(set(router_ids))),
                                                           Router.enabled.is_(True)).order_by(Router.id)))
    if not routers:
        return {}
    prevs = monitor_ingest.previous_many([r.id for r in routers])
    results = monitor_batch.read_many(routers, prevs)
    outcome, publish = monitor_batch.store(routers, results, prevs, now)
    db.session.commit()
    publish()
    return outcome


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
