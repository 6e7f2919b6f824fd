"""Figures for the pool monitor, /health/detailed and /metrics: Redis state plus SQL counts."""
from __future__ import annotations

import time

from rq import Worker
from rq.registry import ScheduledJobRegistry
from sqlalchemy import func, select

from isp.dispatch import QUEUES, queue
from isp.extensions import db, redis_store
from isp.models import CommandState, Router, RouterCommand
from isp.routeros import stats
from isp.routeros.pool import conns_key
from isp.routeros.status import breaker
from isp.services import job_problems as job_problems_mod
from isp.services import paging

CONN_REPORT_MAX_AGE = 900  # a worker that has not reported for this long is gone


def connections(router_id: int) -> tuple[int, int]:
    """(open, in use) connections to a router summed over live worker processes."""
    now = time.time()
    open_ = in_use = 0
    for raw in redis_store.client.hvals(conns_key(router_id)):
        try:
            o, u, at = (int(float(x)) for x in raw.decode().split(","))
        except ValueError:
            continue
        if now - at <= CONN_REPORT_MAX_AGE:
            open_, in_use = open_ + o, in_use + u
    return open_, in_use


def command_counts() -> dict[int, dict[str, int]]:
    """Outbox rows per router and state (one grouped query)."""
    rows = db.session.execute(
        select(RouterCommand.router_id, RouterCommand.state, func.count()).group_by(RouterCommand.router_id, RouterCommand.state)
    ).all()
    counts: dict[int, dict[str, int]] = {}
    for router_id, state, n in rows:
        counts.setdefault(router_id, {})[state.value] = n
    return counts


def router_rows() -> list[dict]:
    """One dict per router: circuit, connections, rates, latency, success, last error, backlog."""
    counts = command_counts()
    routers = list(db.session.scalars(select(Router).order_by(Router.name)))
    circuits = breaker().states([r.id for r in routers])
    out = []
    for router in routers:
        state = circuits[router.id]
        open_, in_use = connections(router.id)
        summary = stats.summary(redis_store.client, router.id)
        mine = counts.get(router.id, {})
        out.append({
            "router": router, "circuit": state["state"], "failures": int(state.get("failures", 0)),
            "opens": int(state.get("opens", 0)), "open": open_, "in_use": in_use, **summary,
            "pending": sum(mine.get(s.value, 0) for s in CommandState.unfinished()),
            "dead": mine.get("dead", 0), "done": mine.get("done", 0),
            "breaker_error": state.get("last_error", ""),
        })
    return out


def queue_depths() -> dict[str, dict[str, int]]:
    """Queued and scheduled (deferred/retrying) jobs per priority queue."""
    depths = {}
    for name in QUEUES:
        q = queue(name)
        depths[name] = {"queued": q.count, "scheduled": ScheduledJobRegistry(queue=q).count}
    return depths


def workers() -> list[dict]:
    """Live RQ workers with their state and current job."""
    out = []
    for worker in Worker.all(connection=redis_store.client):
        out.append({"name": worker.name, "state": worker.get_state(), "queues": ",".join(worker.queue_names()),
                    "last_heartbeat": worker.last_heartbeat})
    return out


def dead_letters_query():
    """Dead commands, newest first."""
    return select(RouterCommand).where(RouterCommand.state == CommandState.dead).order_by(RouterCommand.id.desc())


def dead_letters_page(per_page: int) -> paging.IdPagination:
    """One page of dead commands (page number from the request), read off the (state, id) index."""
    return paging.paginate(dead_letters_query(), RouterCommand.id, per_page)


def job_problems(limit: int = 20) -> list[dict]:
    """Rows periodic jobs skipped (and why), newest first."""
    return job_problems_mod.recent(limit)
