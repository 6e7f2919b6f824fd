"""P12: a CPU threshold crossed on a simulated router to the alert's POST arriving at a local webhook receiver.

A simulator in its own process (BENCH_P12_ROUNDS routers, a control port); the panel with `flask clock` (every
periodic job: the 10 s poll, alert evaluation, the notification sender) and two `flask worker` processes; the
webhook channel enabled towards a stdlib HTTP receiver on 127.0.0.1 that records when each POST arrives; the
default "CPU load" rule (critical at 90 %) sending to the webhook with its own "for" delay (as installed), or the
delay BENCH_P12_FOR_SECONDS when set (0: the time measured is the pipeline's alone, no configured wait).
Each round holds one router's cpu-load at 95 % through the control channel at T0 and waits for the POST that
names that router. The figure is the median of the rounds; all are printed in the detail line.
"""
from __future__ import annotations

import statistics
import time

from monitorbench.common import (
    ALL_QUEUES,
    SimProcess,
    WebhookReceiver,
    dialect,
    env_int,
    free_port_block,
    harness,
    register_routers,
    start_clock,
    verbose,
)

SECRET = "bench-webhook-signing-secret"


def _configure(h, receiver_url: str, for_seconds: int) -> int:
    from sqlalchemy import select

    from isp.extensions import db
    from isp.models import Role
    from isp.models.monitoring import AlertRule
    from isp.services import notification_settings, users

    with h.app.app_context():
        admin = users.create_user("bench-admin", "Quiet-Harbour-7-Lantern", Role.admin)
        notification_settings.save_channel(admin, "webhook", True, {"url": receiver_url}, secret=SECRET)
        rule = db.session.scalar(select(AlertRule).where(AlertRule.name == "CPU load"))
        rule.channels = "webhook"
        if for_seconds >= 0:
            rule.for_seconds = for_seconds
        db.session.commit()
        return rule.for_seconds


def _polled(h, router_ids: list[int]) -> bool:
    """Every router answered a poll since the start (the rounds do not time a first login)."""
    from sqlalchemy import func, select

    from isp.extensions import db
    from isp.models import Router

    with h.app.app_context():
        seen = db.session.scalar(select(func.count()).select_from(Router)
                                 .where(Router.id.in_(router_ids), Router.last_seen_at.is_not(None)))
        db.session.rollback()
    return seen == len(router_ids)


def run() -> str:
    rounds = max(1, env_int("BENCH_P12_ROUNDS", 3))
    for_seconds = env_int("BENCH_P12_FOR_SECONDS", -1)  # -1: the installed rule's own delay
    timeout = env_int("BENCH_P12_TIMEOUT", 180)
    h = harness()
    receiver = WebhookReceiver()
    base = free_port_block(rounds + 1)
    sim = SimProcess(rounds, base, control_port=base + rounds)
    took: list[float] = []
    failures: list[str] = []
    try:
        sim.wait_ready()
        router_ids = register_routers(h, sim.ports, prefix="p12")
        names = [f"p12-{n + 1:04d}" for n in range(rounds)]
        sim_names = [f"sim-{n + 1}" for n in range(rounds)]
        for_seconds = _configure(h, receiver.url, for_seconds)
        h.start_workers(2, queues=ALL_QUEUES)
        start_clock(h)
        deadline = time.monotonic() + 90
        while not _polled(h, router_ids):
            if time.monotonic() > deadline:
                return "P12: not measured (the routers were never polled within 90 s)"
            time.sleep(1)
        time.sleep(5)
        for name, sim_name in zip(names, sim_names, strict=True):
            seen = len(receiver.arrivals)
            t0 = time.time()
            answer = sim.control({"router": sim_name, "hold": {"cpu-load": 95}, "seconds": timeout + 60})
            if not answer.get("ok"):
                failures.append(f"{name}: control refused the hold: {answer}")
                continue
            arrived = None
            while time.time() - t0 < timeout and arrived is None:
                receiver.event.wait(0.2)
                receiver.event.clear()
                for at, _headers, body in receiver.arrivals[seen:]:
                    if name.encode() in body:
                        arrived = at
                        break
            if arrived is None:
                failures.append(f"{name}: no webhook POST within {timeout} s ({len(receiver.arrivals) - seen} others)")
            else:
                took.append(arrived - t0)
    finally:
        h.stop_workers()
        h.close()
        receiver.close()
        sim.stop()
    verbose(f"P12: rounds {', '.join(f'{t:.1f} s' for t in took) or 'none'}; rule 'CPU load' critical 90 %, "
            f"for {for_seconds} s; poll every 10 s, clock + 2 workers; {len(receiver.arrivals)} POSTs in all; "
            f"{dialect(h)}" + (f"; failures: {'; '.join(failures)}" if failures else ""))
    if not took:
        return f"P12: not measured ({failures[0] if failures else 'no round ran'})"
    return (f"P12: {statistics.median(took):.0f} s (threshold crossed on the router to notification received by the local "
            f"webhook; the CPU rule's {for_seconds} s delay included)")
