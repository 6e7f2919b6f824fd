"""storage: the bytes the monitoring tables take per router per day, from a measured period of real polling.

A simulator in its own process (BENCH_STORAGE_ROUTERS routers, 50, with living clients so counters and sessions
move), two workers, POLL_ALL at each 10 s boundary. After a warm-up (BENCH_STORAGE_WARMUP, 30 s: the first reads
add every interface row and the routers' boot log once), the completed minutes are rolled up (what MONITOR_ROLLUP
does each minute) and the monitoring tables measured; again after BENCH_STORAGE_SECONDS (180) more of polling and
rolling. The growth between the two (metrics_store.storage_by_table: SQLite pages, or MariaDB's data + index length)
holds the raw samples, minute rollups and log lines of that period, scaled to one router and one day. Retention
keeps raw 48 h, minute rollups 14 days and hour rollups a year (README).
"""
from __future__ import annotations

import time

from monitorbench.common import (
    ALL_QUEUES,
    SimProcess,
    dialect,
    env_int,
    free_port_block,
    harness,
    monitoring_bytes,
    register_routers,
    verbose,
)


def _enqueue(h, tick: int) -> None:
    from isp import dispatch

    with h.app.app_context():
        dispatch.Enqueue(dispatch.POLL_ALL, (), f"bench-poll-all-{tick}").send()


def _roll(h, until: float) -> None:
    """Roll every minute completed before `until` (the rollup's own lag is added to its clock)."""
    from isp.extensions import db
    from isp.services import monitor_rollup

    with h.app.app_context():
        now = until + monitor_rollup.lag()
        for _ in range(100):
            more = monitor_rollup.rollup_step(now)
            db.session.commit()
            if not more:
                break


def _counts(h) -> dict[str, int]:
    from sqlalchemy import func, select

    from isp.extensions import db
    from isp.models.monitoring import (
        InterfaceRollup,
        InterfaceSample,
        RouterInterface,
        RouterLogEntry,
        RouterRollup,
        RouterSample,
    )

    with h.app.app_context():
        out = {m.__tablename__: db.session.scalar(select(func.count()).select_from(m))
               for m in (RouterSample, InterfaceSample, RouterRollup, InterfaceRollup, RouterInterface, RouterLogEntry)}
        out["routers_with_interfaces"] = db.session.scalar(select(func.count(func.distinct(RouterInterface.router_id))))
        db.session.rollback()
    return out


def run() -> str:
    count = env_int("BENCH_STORAGE_ROUTERS", 50)
    seconds = env_int("BENCH_STORAGE_SECONDS", 180)
    warmup = env_int("BENCH_STORAGE_WARMUP", 30)
    h = harness()
    base = free_port_block(count)
    sim = SimProcess(count, base, clients=10, users=20)
    try:
        sim.wait_ready()
        interval = int(h.app.config["MONITOR_INTERVAL"])
        register_routers(h, sim.ports, prefix="store")
        h.start_workers(2, queues=ALL_QUEUES)
        tick = (int(time.time()) // interval + 1) * interval
        t1 = tick + -(-warmup // interval) * interval
        t2 = t1 + (seconds // interval) * interval
        before = after = None
        while tick <= t2:
            time.sleep(max(0.0, tick - time.time()))
            if tick == t1:  # the warm-up's polls have landed (each takes well under a second)
                time.sleep(interval / 2)
                _roll(h, t1)
                before = monitoring_bytes(h)
            if tick < t2:
                _enqueue(h, tick)
            tick += interval
        h.stop_workers()
        _roll(h, t2)
        after = monitoring_bytes(h)
        counts = _counts(h)
    finally:
        h.close()
        sim.stop()
    grown = sum(after.values()) - sum(before.values())
    ifaces = counts["router_interfaces"] / max(counts["routers_with_interfaces"], 1)
    per_table = ", ".join(f"{k} {after[k] - before.get(k, 0):+,}" for k in sorted(after))
    verbose(f"storage: {count} routers polled every {interval} s; {grown:,} bytes grown in the {t2 - t1} s after a "
            f"{warmup} s warm-up ({per_table}); rows at the end: {', '.join(f'{k} {v:,}' for k, v in counts.items())}; "
            f"{dialect(h)}")
    if not counts["router_samples"]:
        return "storage: not measured (no router_samples written: the poll stores no samples yet)"
    per_day = grown / count * 86400 / (t2 - t1) / 1e6
    log_day = (after.get("router_log", 0) - before.get("router_log", 0)) / count * 86400 / (t2 - t1) / 1e6
    verbose(f"storage: of the {per_day:.2f} MB per router per day, {log_day:.2f} MB are the router's log lines "
            f"(the simulated clients' logins and logouts), {per_day - log_day:.2f} MB samples and rollups")
    return (f"storage: {per_day:.2f} MB per router per day ({ifaces:.0f} interfaces per router, raw every {interval} s "
            f"and minute rollups)")
