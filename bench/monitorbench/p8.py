"""P8: how many routers two workers poll within every 10 s interval, none missed.

Simulated routers in their own processes (BENCH_P8_PROCESSES × routers, `python -m routeros_sim`, no api-ssl),
all registered in the panel; two `flask worker` processes on every queue; POLL_ALL enqueued at each 10 s
boundary (MONITOR_INTERVAL) exactly as the clock does (BENCH_P8_CLOCK=1 runs the real `flask clock` instead, with
every other periodic job too). After a warm-up (the pools' first logins), each router's rows in router_samples are
counted per 10 s window: a window without one is a missed poll.

BENCH_P8_ROUTERS (520), BENCH_P8_PROCESSES (2), BENCH_P8_SECONDS (300), BENCH_P8_WARMUP (30).
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
    register_routers,
    start_clock,
    verbose,
)


def _enqueue_poll_all(h, tick: int) -> None:
    from isp import dispatch

    with h.app.app_context():
        dispatch.Enqueue(dispatch.POLL_ALL, (), f"bench-poll-all-{tick}").send()


def count_windows(h, router_ids: list[int], start: int, end: int, interval: int) -> dict:
    """Per (router, window) whether a sample landed, and when in its window the last poll of each window landed."""
    from sqlalchemy import func, select

    from isp.extensions import db
    from isp.models.monitoring import RouterSample

    with h.app.app_context():
        rows = db.session.execute(select(RouterSample.router_id, RouterSample.ts)
                                  .where(RouterSample.ts >= start, RouterSample.ts < end)).all()
        total = db.session.scalar(select(func.count()).select_from(RouterSample))
        db.session.rollback()
    wanted = set(router_ids)
    seen: set[tuple[int, int]] = set()
    latest: dict[int, int] = {}
    for router_id, ts in rows:
        if router_id in wanted:
            w = (ts - start) // interval
            seen.add((router_id, w))
            latest[w] = max(latest.get(w, 0), (ts - start) % interval)
    windows = (end - start) // interval
    expected = len(router_ids) * windows
    clean = sum(1 for r in router_ids if all((r, w) in seen for w in range(windows)))
    return {"windows": windows, "expected": expected, "missed": expected - len(seen), "clean_routers": clean,
            "latest_offset": max(latest.values(), default=None), "samples_total": total}


def run() -> str:
    count = env_int("BENCH_P8_ROUTERS", 520)
    processes = max(1, env_int("BENCH_P8_PROCESSES", 2))
    seconds = env_int("BENCH_P8_SECONDS", 300)
    warmup = env_int("BENCH_P8_WARMUP", 30)
    use_clock = bool(env_int("BENCH_P8_CLOCK", 0))
    h = harness()
    sims: list[SimProcess] = []
    try:
        interval = int(h.app.config["MONITOR_INTERVAL"])
        per = -(-count // processes)
        base = free_port_block(count + processes)
        for i in range(processes):
            n = min(per, count - i * per)
            if n > 0:
                sims.append(SimProcess(n, base + i * per))
        for sim in sims:
            sim.wait_ready()
        began = time.perf_counter()
        router_ids = register_routers(h, [p for sim in sims for p in sim.ports])
        registered = time.perf_counter() - began
        h.start_workers(2, queues=ALL_QUEUES)
        if use_clock:
            start_clock(h)
        # Ticks on the 10 s boundaries, as the clock's interval; the measured windows start after the warm-up.
        first = (int(time.time()) // interval + 1) * interval
        start = first + -(-warmup // interval) * interval
        end = start + (seconds // interval) * interval
        tick = first
        while tick < end:
            time.sleep(max(0.0, tick - time.time()))
            if not use_clock:
                _enqueue_poll_all(h, tick)
            tick += interval
        time.sleep(max(0.0, end + interval / 2 - time.time()))  # the last window's polls land
        h.stop_workers()
        result = count_windows(h, router_ids, start, end, interval)
    finally:
        h.close()
        for sim in sims:
            sim.stop()
    minutes = f"{seconds // 60} minutes" if seconds % 60 == 0 and seconds >= 120 else f"{seconds} s"
    how = "flask clock" if use_clock else "POLL_ALL enqueued each interval"
    verbose(f"P8: {count} routers in {len(sims)} simulator processes, registered in {registered:.1f} s; {how}; "
            f"{result['windows']} windows of {interval} s measured after {warmup} s warm-up; "
            f"{result['missed']} of {result['expected']} router-windows missed; {result['clean_routers']} routers "
            f"never missed; latest poll landed {result['latest_offset']} s into its window; "
            f"{result['samples_total']} samples in all; {dialect(h)}")
    if not result["samples_total"]:
        return f"P8: not measured (no router_samples written: isp.jobs.monitor.poll_router stores no samples yet; {count} routers)"
    if result["missed"] == 0:
        return f"P8: {count} routers (every router polled within each {interval} s interval for {minutes}, 2 workers, 0 missed)"
    return (f"P8: {count} routers (polled for {minutes}, 2 workers, {result['missed']} of {result['expected']} "
            f"router-intervals missed; {result['clean_routers']} routers never missed)")
