"""A monitoring poll of a batch of routers: reads concurrent in a few threads, everything else once for the batch.

`read_many(routers, prevs)` reads every router of the batch through its own guarded call (breaker, pooled
connection) in a small thread pool. The threads get plain data (a snapshot of each router's connection fields
and its log cursor) and return a Reading or the RouterUnavailable: no ORM object or db.session crosses a thread.
A router that is down or slow costs its own thread the connect timeout; the others of the batch go on.

`store(routers, results, prevs, now)` then writes the whole batch in the job's thread (flush only; the job
commits once): the routers' failures, one `ingest_many` (set-based samples, interfaces, log lines), the routers'
identity/version/board/last_seen_at in one UPDATE ... CASE, reconcile requests after a reboot or a return, and
one set-based alert evaluation. It returns the Redis side to send after the commit.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from types import SimpleNamespace

from flask import current_app
from sqlalchemy import case, update
from sqlalchemy.orm.attributes import set_committed_value

from isp.extensions import db, redis_store
from isp.models import Router, RouterMode
from isp.models.base import utcnow
from isp.routeros import runtime, status
from isp.routeros.runtime import RouterUnavailable, guarded
from isp.services import alerts, monitor_ingest, monitor_poll, reconcile
from isp.services.monitor_ingest import Polled
from isp.units import router_duration

log = logging.getLogger(__name__)
THREADS = 16  # concurrent router reads per batch job (I/O bound: the GIL is released while waiting on sockets)
SPEC_FIELDS = ("id", "name", "addresses", "api_port", "username", "password_encrypted", "use_tls", "verify_tls",
               "max_sessions", "endpoint")

Result = tuple[monitor_poll.Reading, float] | RouterUnavailable


def _snapshot(router: Router) -> SimpleNamespace:
    """The plain fields guarded() needs to reach a router, read in the job's thread."""
    return SimpleNamespace(**{name: getattr(router, name) for name in SPEC_FIELDS})


def read_many(routers: Sequence[Router], prevs: dict[int, dict | None], threads: int = THREADS) -> dict[int, Result]:
    """Read every router concurrently; {router id: (Reading, epoch seconds of the read) or RouterUnavailable}."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    runtime.pool()  # created here, once, before the threads share it
    jobs = [(_snapshot(r), monitor_ingest.log_after(prevs.get(r.id))) for r in routers]

    def one(job: tuple[SimpleNamespace, str | None]) -> Result:
        target, after = job
        with app.app_context():  # current_app and Redis for the breaker and pool; no db.session is used here
            try:
                reading = guarded(target, lambda api: monitor_poll.read(api, after),
                                  count=len(monitor_poll.commands(after)))
            except RouterUnavailable as exc:
                return exc
            except Exception as exc:  # a bug or Redis failing around one router must not lose the batch's others
                log.exception("poll of router %s failed", target.id)
                return RouterUnavailable("failed", f"failed: {exc}")
            return reading, time.time()

    if len(jobs) == 1:
        return {routers[0].id: one(jobs[0])}
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(jobs))), thread_name_prefix="poll") as executor:
        return {r.id: result for r, result in zip(routers, executor.map(one, jobs), strict=True)}


def metrics(reading: monitor_poll.Reading, now: float) -> dict:
    """The figures pages read from Redis (isp.routeros.status.latest_metrics)."""
    resource = reading.resource
    return {
        "cpu_load": reading.cpu, "free_memory": monitor_poll._int(resource.get("free-memory")),
        "total_memory": monitor_poll._int(resource.get("total-memory")), "memory": reading.memory,
        "uptime": str(resource.get("uptime", "")), "version": str(resource.get("version", "")),
        "board": str(resource.get("board-name", "")), "temperature": reading.health.get("temperature"),
        "voltage": reading.health.get("voltage"), "ppp_active": reading.ppp_active,
        "hotspot_active": reading.hotspot_active, "queue_rx_bps": reading.queue_rx_bps,
        "queue_tx_bps": reading.queue_tx_bps, "ts": now,
    }


def store(routers: Sequence[Router], results: dict[int, Result], prevs: dict[int, dict | None],
          now: float | None = None) -> tuple[dict[int, str], Callable[[], None]]:
    """Write the batch (flush only); returns ({router id: outcome}, publish to call after the commit).

    `now` (epoch seconds) replaces each read's own time (tests on a frozen simulator clock)."""
    outcome: dict[int, str] = {}
    ok: list[tuple[Router, Polled]] = []
    for router in routers:
        result = results[router.id]
        if isinstance(result, RouterUnavailable):
            outcome[router.id] = result.message
            if result.error is not None:
                router.last_error = str(result.error)
            continue
        reading, read_at = result
        ok.append((router, Polled(router.id, reading, read_at if now is None else now, prevs.get(router.id))))
        outcome[router.id] = "ok"
    if not ok:
        db.session.flush()
        return outcome, lambda: None
    before = status.latest_many([r.id for r, _ in ok])
    at_epoch = max(p.now for _, p in ok)
    at = datetime.fromtimestamp(at_epoch, UTC)
    publish_rows = monitor_ingest.ingest_many([p for _, p in ok], at)
    figures = {p.router_id: metrics(p.reading, p.now) for _, p in ok}
    was_down = {r.id for r, _ in ok if r.last_error}
    _mark_seen(ok, figures, at)
    for router, p in ok:
        old = before.get(router.id)
        rebooted = p.rebooted or (old is not None and router_duration(figures[router.id]["uptime"])
                                  < router_duration(str(old.get("uptime", ""))))
        if (router.id in was_down or rebooted) and router.mode == RouterMode.api:
            # A router back from down, or rebooted (perhaps reset or replaced), may have lost what we pushed.
            reconcile.request_sync(router, reason="rebooted" if rebooted else "back online")
    db.session.flush()
    alerts.evaluate_routers([r.id for r, _ in ok], now=at)

    def publish() -> None:
        pipe = redis_store.client.pipeline(transaction=False)
        publish_rows(pipe)
        status.store_metrics_many(pipe, figures)
        pipe.execute()

    return outcome, publish


def _mark_seen(ok: list[tuple[Router, Polled]], figures: dict[int, dict], at: datetime) -> None:
    """identity, version, board, last_seen_at and last_error of the batch's reached routers in one UPDATE."""
    seen = utcnow()  # the wall clock, as any other write of last_seen_at (`at` may be a test's frozen time)
    values: dict = {Router.last_seen_at: seen, Router.last_error: ""}
    wanted = {r.id: {"identity": p.reading.identity or r.identity, "version": figures[r.id]["version"],
                     "board": figures[r.id]["board"]} for r, p in ok}
    for key in ("identity", "version", "board"):
        diff = {r.id: wanted[r.id][key] for r, _ in ok if getattr(r, key) != wanted[r.id][key]}
        if diff:
            values[getattr(Router, key)] = case(diff, value=Router.id, else_=getattr(Router, key))
    db.session.execute(update(Router).where(Router.id.in_([r.id for r, _ in ok])).values(values)
                       .execution_options(synchronize_session=False))
    for router, _ in ok:  # the loaded rows agree with the table without another UPDATE at flush
        for key, value in (*wanted[router.id].items(), ("last_seen_at", seen), ("last_error", "")):
            set_committed_value(router, key, value)
