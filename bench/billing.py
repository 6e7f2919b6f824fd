"""Subscriber benchmarks: customers list at scale, the billing run, and suspension lag against a simulated router.

P4   customer list and search p95 at 100,000 customers and subscriptions (1M ledger entries) vs 1,000; page 50 by page
     49's Next link (a keyset boundary), jumps to ?page=50 shown apart with BENCH_VERBOSE (bench/_billing_scale.py)
P9   the billing run over 100,000 due subscriptions, and a second run that must change nothing (bench/_billing_scale.py)
P6s  suspension lag: 20 PPPoE subscribers online on a simulated router (login_as), their grace ending at staggered
     moments over ~30 s; real `flask worker` and `flask clock` processes suspend them and kick the sessions; the lag is
     from each grace_until to its session gone from /ppp/active, watched on the simulator every 50 ms

Run all with `python bench/billing.py`, or some: `python bench/billing.py P4 P9`. P4 and P9 run on a fresh SQLite
database, or on BENCH_DATABASE_URL (a throwaway MariaDB database: its tables are dropped first); P6s on SQLite.
BENCH_VERBOSE=1 adds the p95 of every P4 request and the P6s lags.
"""
from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta

import _billing_scale
import _scale
from _harness import PASSWORD, Harness, stop_process

P6S_COUNT = 20
LATENCY_MS = 1.0
ACTIVE = "/ppp/active"


def _subscribers(h: Harness, router_id: int) -> list[str]:
    """20 paid-up PPPoE subscriptions on the router (through the services); returns their usernames."""
    from isp.extensions import db
    from isp.models import Role
    from isp.services import billing, customers, service_plans, subscriptions, users

    with h.app.app_context():
        admin = users.create_user("p6s-admin", "Quiet-Harbour-7-Lantern", Role.admin)
        plan = service_plans.create_plan({"name": "P6s 10M", "kind": "pppoe", "price": "20.00", "period_unit": "month",
                                          "period_count": 1, "rate_limit": "5M/10M", "shared_users": 1,
                                          "router_ids": [router_id], "active": True}, admin)
        names = []
        for n in range(P6S_COUNT):
            customer = customers.create({"name": f"Lag test {n}", "phone": f"+25470000{n:04d}"}, admin)
            billing.record_payment(customer, "20.00", "cash", None, "", admin)
            sub = subscriptions.create(customer, {"plan_id": plan.id, "router_id": router_id, "username": f"lag{n:02d}",
                                                  "password": "lag-test-pass"}, admin)
            names.append(sub.username)
        db.session.commit()
        return names


def _grace_ending(h: Harness, names: list[str], first: float, step: float) -> dict[str, float]:
    """Put the services in grace (the state machine), each ending at its own whole second; returns the moments."""
    from isp.extensions import db
    from isp.models import Subscription, SubscriptionState
    from isp.models.base import utcnow
    from isp.services import lifecycle

    with h.app.app_context():
        base = utcnow().replace(microsecond=0)
        out = {}
        for n, name in enumerate(names):
            sub = db.session.scalar(db.select(Subscription).where(Subscription.username == name))
            ends = base + timedelta(seconds=round(first + n * step))
            # Backdated so that paid_until + grace days lands on `ends` (the renewal finds no money: balance 0).
            sub.paid_until = ends - timedelta(days=lifecycle.grace_days(sub))
            lifecycle.transition(sub, SubscriptionState.grace, None, "bench: grace ends soon")
            out[name] = sub.grace_until.timestamp()
        db.session.commit()
        return out


def _online(sim) -> set[str]:
    with sim.state.lock:
        sim.state.sync(force=True)
        return {str(row.get("name")) for row in sim.state.menu(ACTIVE).items.values()}


def _wait_secrets(sim, names: list[str], timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while True:
        with sim.state.lock:
            have = {str(i.get("name")) for i in sim.state.menu("/ppp/secret").items.values()}
        if set(names) <= have:
            return
        if time.time() > deadline:
            raise RuntimeError(f"{len(set(names) - have)} PPP secrets never reached the router")
        time.sleep(0.1)


def p6s(h: Harness, fleet) -> None:
    """P6s: from paid_until + grace to the PPP session gone from the router, 20 subscriptions, real processes."""
    sim = fleet["p6s"]
    router_id = h.add_router("p6s", sim.port)
    names = _subscribers(h, router_id)
    h.start_workers(2)
    clock = h.start_clock()
    try:
        _wait_secrets(sim, names)
        for name in names:
            refusal = sim.login(name, kind="ppp")
            if refusal:
                raise RuntimeError(f"simulated PPPoE login of {name} refused: {refusal}")
        ends = _grace_ending(h, names, first=5.0, step=1.25)
        gone: dict[str, float] = {}
        deadline = time.time() + 180
        while len(gone) < len(names):
            if time.time() > deadline:
                raise RuntimeError(f"{len(names) - len(gone)} sessions still online 180 s after their grace began")
            now, online = time.time(), _online(sim)
            for name in names:
                if name not in gone and name not in online:
                    gone[name] = now
            time.sleep(0.05)
    finally:
        stop_process(clock)
        h.stop_workers()
    lags = [gone[n] - ends[n] for n in names]
    early = [n for n in names if gone[n] < ends[n] - 1.0]
    if early:
        raise RuntimeError(f"{len(early)} sessions ended before their grace did: {', '.join(early)}")
    if os.environ.get("BENCH_VERBOSE"):
        print(f"  P6s lags: median {statistics.median(lags):.1f} s, min {min(lags):.1f} s, "
              + ", ".join(f"{n} {lag:.1f}" for n, lag in zip(names, lags, strict=True)))
    print(f"P6s: {max(lags):.1f} s (max lag from paid_until + grace to the PPP session gone from the router; "
          f"{len(names)} subscriptions)")


def main() -> None:
    from routeros_sim import FaultConfig, Fleet, RouterConfig

    wanted = {a.upper() for a in sys.argv[1:]} or {"P4", "P9", "P6S"}
    instance = tempfile.mkdtemp(prefix="isp-bench-instance-")
    os.environ["ISP_INSTANCE_PATH"] = instance  # the app, workers and clock never touch the real instance/
    try:
        if wanted & {"P4", "P9"}:
            url = os.environ.get("BENCH_DATABASE_URL")
            if url:
                url = _scale.empty_database(url)
            h = Harness(**({"SQLALCHEMY_DATABASE_URI": url} if url else {}))
            try:
                data = _billing_scale.Subscribers(h)
                if "P4" in wanted:
                    _billing_scale.p4(h, data)
                if "P9" in wanted:
                    data.grow(100_000)
                    _billing_scale.p9(h, data)
            finally:
                h.close()
        if "P6S" in wanted:
            config = RouterConfig(name="p6s", password=PASSWORD, tls_port=None, faults=FaultConfig(latency_ms=LATENCY_MS))
            with Fleet([config], speed=1.0) as fleet:
                h = Harness()
                try:
                    p6s(h, fleet)
                finally:
                    h.close()
    finally:
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
