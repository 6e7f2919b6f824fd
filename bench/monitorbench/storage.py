"""storage: the bytes the monitoring tables take per router per day, from a measured period of real polling.

A simulator in its own process (BENCH_STORAGE_ROUTERS routers, 50, with living clients so counters move), two
workers, POLL_ALL at each 10 s boundary for BENCH_STORAGE_SECONDS (180), the minute rollup run at the end when
metrics_store has it. The monitoring tables' size (metrics_store.storage_bytes, else SQLite's dbstat bytes in use
or MariaDB's information_schema data + index length) after, minus before, is scaled to one router and one day.
The interfaces per router are counted from router_interfaces. Raw samples are kept 48 h, minute rollups 14 days and
hour rollups a year, so a router's standing footprint is about 2 days of raw plus 14 of minutes (README).
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


def _rollup(h) -> str:
    """Roll the run's completed minutes (what MONITOR_ROLLUP does each minute), so rollups count in the bytes."""
    try:
        from isp.services import monitor_rollup
    except ImportError as exc:
        return f"no rollup ({exc})"
    from isp.extensions import db

    steps = 0
    with h.app.app_context():
        while monitor_rollup.rollup_step(time.time()) and steps < 100:
            db.session.commit()
            steps += 1
        db.session.commit()
    return f"rollup ran ({steps + 1} steps)"


def _counts(h) -> dict[str, int]:
    from sqlalchemy import func, select

    from isp.extensions import db
    from isp.models.monitoring import InterfaceRollup, InterfaceSample, RouterInterface, RouterRollup, RouterSample

    with h.app.app_context():
        out = {m.__tablename__: db.session.scalar(select(func.count()).select_from(m))
               for m in (RouterSample, InterfaceSample, RouterRollup, InterfaceRollup, RouterInterface)}
        routers = db.session.scalar(select(func.count(func.distinct(RouterInterface.router_id)))) or 0
        db.session.rollback()
    out["routers_with_interfaces"] = routers
    return out


def run() -> str:
    count = env_int("BENCH_STORAGE_ROUTERS", 50)
    seconds = env_int("BENCH_STORAGE_SECONDS", 180)
    h = harness()
    base = free_port_block(count)
    sim = SimProcess(count, base, clients=10, users=20)
    try:
        sim.wait_ready()
        interval = int(h.app.config["MONITOR_INTERVAL"])
        register_routers(h, sim.ports, prefix="store")
        before = sum(monitoring_bytes(h).values())
        h.start_workers(2, queues=ALL_QUEUES)
        tick = (int(time.time()) // interval + 1) * interval
        start = tick
        while tick < start + seconds:
            time.sleep(max(0.0, tick - time.time()))
            _enqueue(h, tick)
            tick += interval
        time.sleep(interval / 2)
        h.stop_workers()
        rolled = _rollup(h)
        after = monitoring_bytes(h)
        counts = _counts(h)
    finally:
        h.close()
        sim.stop()
    grown = sum(after.values()) - before
    ifaces = counts["router_interfaces"] / max(counts["routers_with_interfaces"], 1)
    verbose(f"storage: {count} routers polled every {interval} s for {seconds} s; {grown:,} bytes grown "
            f"({', '.join(f'{k} {v:,}' for k, v in sorted(after.items()))}); rows: "
            f"{', '.join(f'{k} {v:,}' for k, v in counts.items())}; {rolled}; {dialect(h)}")
    if not counts["router_samples"]:
        return "storage: not measured (no router_samples written: the poll stores no samples yet)"
    per_day = grown / count * 86400 / seconds / 1e6
    return f"storage: {per_day:.2f} MB per router per day ({ifaces:.0f} interfaces per router, raw samples every {interval} s)"
