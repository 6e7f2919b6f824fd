"""Router pipeline benchmarks, each against a baseline measured in the same run (2 ms simulated latency).

P1  commands/s through the pipeline vs connecting and logging in per command (Mikhmon style)
P2  critical-command latency with 10,000 bulk commands queued vs an idle system (the default worker, and one process alone)
P7  how fast a dead router is detected, and how fast its backlog drains after it returns
"""
from __future__ import annotations

import statistics
import time

from _harness import PASSWORD, Harness

LATENCY_MS = 2.0
SAMPLES = 31  # critical commands timed idle and again under the backlog (medians of each)


def _queue(h: Harness, router_id: int, names: list[str], priority: str = "high", bulk: bool = False) -> list[int]:
    from isp.extensions import db
    from isp.models import Priority, Router
    from isp.services import outbox

    with h.app.app_context():
        router = db.session.get(Router, router_id)
        items = [("hotspot_user.ensure", f"hotspot_user:{n}", {"attrs": {"name": n, "password": "pw"}}) for n in names]
        if bulk:
            ids = outbox.queue_bulk(router, items, "bench", h.app.config["BULK_CHUNK"])
        else:
            ids = [outbox.queue_command(router, op, key, payload, Priority(priority)).id for op, key, payload in items]
        db.session.commit()
        return ids


def _count_done(h: Harness, ids: list[int] | None = None) -> int:
    from isp.extensions import db
    from isp.models import CommandState, RouterCommand

    with h.app.app_context():
        stmt = db.select(db.func.count()).select_from(RouterCommand).where(RouterCommand.state == CommandState.done)
        if ids is not None:
            stmt = stmt.where(RouterCommand.id.in_(ids))
        return db.session.scalar(stmt)


def _wait_done(h: Harness, ids: list[int], timeout: float = 300.0) -> float:
    started = time.perf_counter()
    while _count_done(h, ids) < len(ids):
        if time.perf_counter() - started > timeout:
            raise RuntimeError("timed out")
        time.sleep(0.02)
    return time.perf_counter() - started


def _latency(h: Harness, command_id: int) -> float:
    from isp.extensions import db
    from isp.models import RouterCommand

    while True:
        with h.app.app_context():
            row = db.session.get(RouterCommand, command_id)
            if row.finished_at:
                return (row.finished_at - row.created_at).total_seconds()
        time.sleep(0.005)


def baseline_per_command_login(port: int, count: int) -> float:
    """Connect, log in, ensure one user and disconnect, for each command (what Mikhmon does per page)."""
    import librouteros

    from isp.routeros.operations import ensure

    started = time.perf_counter()
    for n in range(count):
        api = librouteros.connect("127.0.0.1", username="admin", password=PASSWORD, port=port, timeout=5, encoding="utf-8")
        ensure(api, "/ip/hotspot/user", {"name": f"base{n}", "password": "pw"})
        api.close()
    return count / (time.perf_counter() - started)


def p1(h: Harness, fleet) -> None:
    # Same work on three identical, empty routers: 1,000 hotspot users each.
    count = 1000
    base = baseline_per_command_login(fleet.routers[0].port, count)
    bulk_router, single_router = h.add_router("p1-bulk", fleet.routers[1].port), h.add_router("p1-single", fleet.routers[4].port)
    h.start_workers(2)
    ids = _queue(h, bulk_router, [f"p1u{n}" for n in range(count)], bulk=True)
    pipe = len(ids) / _wait_done(h, ids)
    single_ids = _queue(h, single_router, [f"p1s{n}" for n in range(count)], "high")
    single = len(single_ids) / _wait_done(h, single_ids)
    h.stop_workers()
    print(f"P1: {pipe / base:.1f}x (pipeline {pipe:.0f} cmd/s, per-command login {base:.0f} cmd/s)")
    print(f"P1-single: {single / base:.1f}x (one job per interactive command, 2 workers, {single:.0f} cmd/s, per-command login {base:.0f} cmd/s)")


def p2(h: Harness, fleet, urgent_worker: bool) -> None:
    """The Procfile's `flask worker` (a general process plus one kept for critical,high), or one process for every queue."""
    router_id = h.add_router(f"p2-{urgent_worker}", fleet.routers[2 if urgent_worker else 3].port)
    if urgent_worker:
        h.start_workers(1)  # the default: general + urgent-only
    else:
        h.start_workers(1, queues="critical,high,normal,low,bulk")
    idle = []
    for n in range(SAMPLES):
        [cid] = _queue(h, router_id, [f"idle{urgent_worker}{n}"], "critical")
        idle.append(_latency(h, cid))
        time.sleep(0.05)
    bulk_ids = _queue(h, router_id, [f"bulk{urgent_worker}{n}" for n in range(10000)], bulk=True)
    time.sleep(0.5)
    loaded = []
    for n in range(SAMPLES):
        [cid] = _queue(h, router_id, [f"crit{urgent_worker}{n}"], "critical")
        loaded.append(_latency(h, cid))
        time.sleep(0.05)
    remaining = len(bulk_ids) - _count_done(h, bulk_ids)
    h.stop_workers()
    h.redis.flushdb()  # drop this run's leftover backlog so the next measurement starts idle
    a, b = statistics.median(idle) * 1000, statistics.median(loaded) * 1000
    label = "P2-shared" if urgent_worker else "P2-one-process"
    setup = ("the default `flask worker` of the Procfile: a general process plus one kept for critical,high" if urgent_worker
             else "a single worker process for every queue (flask worker --queues critical,high,normal,low,bulk)")
    print(f"{label}: {b / a:.2f}x (critical median {b:.1f} ms with the bulk backlog, {a:.1f} ms idle; {setup}; {remaining} bulk still queued)")


def p7(h: Harness, fleet) -> None:
    from isp.routeros.breaker import CircuitBreaker

    sim = fleet.routers[5]
    router_id = h.add_router("p7", sim.port)
    h.start_workers(1)
    breaker = CircuitBreaker.from_config(h.redis, h.app.config)
    _wait_done(h, _queue(h, router_id, ["warm"], "high"))
    sim.faults.down = True
    down_at = time.perf_counter()
    backlog = _queue(h, router_id, [f"p7u{n}" for n in range(300)], "high")
    while breaker.state(router_id)["state"] not in ("open", "half-open"):
        time.sleep(0.01)
    detect = time.perf_counter() - down_at
    time.sleep(3.0)
    sim.faults.down = False
    recover = _wait_done(h, backlog)
    dead = len(backlog) - _count_done(h, backlog)
    h.stop_workers()
    print(f"P7-detect: {detect:.1f} s (router refusing connections, 300 commands queued for it)")
    print(f"P7-recover: {recover:.1f} s (300 deferred commands drained after the router returned; {dead} lost)")


def main() -> None:
    from routeros_sim import FaultConfig, Fleet, RouterConfig

    configs = [RouterConfig(name=f"b{i}", password=PASSWORD, tls_port=None, faults=FaultConfig(latency_ms=LATENCY_MS))
               for i in range(6)]
    with Fleet(configs) as fleet:
        h = Harness()
        try:
            p1(h, fleet)
            p2(h, fleet, urgent_worker=True)
            p2(h, fleet, urgent_worker=False)
            p7(h, fleet)
        finally:
            h.close()


if __name__ == "__main__":
    main()
