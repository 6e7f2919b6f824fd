"""Voucher benchmarks at scale (imported by bench/vouchers.py; no processes, no simulated latency).

P4v  voucher list p95 with 100,000 vouchers and 100,000 outbox rows vs 1,000 of each, every filter, pages 1 and 50,
     through the real views (test client, full page); the other list and detail pages are timed alongside
P15  CPU of one usage poll for a router storing 100,000 hotspot users of which 200 are online
"""
from __future__ import annotations

import os
import re
import statistics
import time
from datetime import timedelta

from _harness import Harness

STATES = (("unused", 70), ("active", 15), ("expired", 8), ("exhausted", 4), ("disabled", 2), ("deleted", 1))
BATCH = 10_000
ROUNDS = 5  # requests per URL and scale; p95 over all of them


def _state_of(n: int) -> str:
    slot = n % 100
    for state, share in STATES:
        if slot < share:
            return state
        slot -= share
    return "unused"


class Fleetless:
    """Routers, plans, resellers and batches for list pages; vouchers and outbox rows inserted in bulk."""

    def __init__(self, h: Harness) -> None:
        from isp.extensions import db
        from isp.models import Role, User
        from isp.services import plans, users

        self.h = h
        self.router_ids = [h.add_router(f"scale-{i}", 1) for i in range(2)]
        with h.app.app_context():
            admin = users.create_user("scale-admin", "Quiet-Harbour-7-Lantern", Role.admin)
            self.reseller_ids = [users.create_user(f"scale-reseller-{i}", "Amber-Ferry-42-Meadow", Role.reseller).id
                                 for i in range(2)]
            self.plan_ids = []
            for i in range(3):
                plan = plans.create_plan({"name": f"Scale {i}", "price": "1.00", "reseller_price": "0.80", "validity": "1d",
                                          "time_quota": "", "data_quota": "", "rate_limit": "", "shared_users": 1,
                                          "active": True, "router_ids": self.router_ids})
                self.plan_ids.append(plan.id)
            db.session.commit()
            self.admin_id = admin.id
            self.admin_name = db.session.get(User, admin.id).username
        self.count = 0
        self.batch_ids: list[int] = []

    def grow(self, total: int) -> None:
        """Add vouchers (and one outbox row each, 2 % of them dead) until there are `total`."""
        from sqlalchemy import insert

        from isp.extensions import db
        from isp.models import RouterCommand, Voucher, VoucherBatch, VoucherMode
        from isp.models.base import utcnow

        with self.h.app.app_context():
            while self.count < total:
                size = min(BATCH, total - self.count)
                k = len(self.batch_ids)
                router_id, plan_id = self.router_ids[k % 2], self.plan_ids[k % 3]
                reseller_id = self.reseller_ids[k % 2] if k % 3 == 1 else None
                batch = VoucherBatch(plan_id=plan_id, router_id=router_id, created_by_id=self.admin_id, reseller_id=reseller_id,
                                     mode=VoucherMode.code, prefix="S", code_length=9, count=size, price=1, unit_cost=1,
                                     validity_seconds=86400, profile_name="scale")
                db.session.add(batch)
                db.session.flush()
                now = utcnow()
                vouchers, commands = [], []
                for n in range(self.count, self.count + size):
                    code = f"S{n:08d}"
                    state = _state_of(n)
                    used = state not in ("unused", "deleted")
                    vouchers.append({"batch_id": batch.id, "plan_id": plan_id, "router_id": router_id,
                                     "reseller_id": reseller_id, "code": code, "password": code, "state": state,
                                     "validity_seconds": 86400, "price": 1, "uptime_seconds": 60 if used else 0,
                                     "bytes_in": 0, "bytes_out": 0, "state_changed_at": now, "created_at": now,
                                     "first_login_at": now - timedelta(hours=1) if used else None,
                                     "expires_at": now + timedelta(hours=23) if used else None})
                    dead = n % 50 == 7
                    commands.append({"router_id": router_id, "operation": "hotspot_user.ensure",
                                     "idempotency_key": f"hotspot_user:{code}", "open_key": None, "payload": "{}",
                                     "priority": "bulk", "state": "dead" if dead else "done",
                                     "group_key": f"voucher-batch:{batch.id}",
                                     "attempts": 5 if dead else 1, "last_error": "timed out" if dead else "", "result": "",
                                     "created_at": now, "updated_at": now, "finished_at": now})
                for start in range(0, size, 2000):
                    db.session.execute(insert(Voucher.__table__), vouchers[start:start + 2000])
                    db.session.execute(insert(RouterCommand.__table__), commands[start:start + 2000])
                db.session.commit()
                self.batch_ids.append(batch.id)
                self.count += size
            analyze = "ANALYZE" if db.engine.dialect.name == "sqlite" else "ANALYZE TABLE vouchers, router_commands"
            db.session.execute(db.text(analyze))  # fresh statistics, as a production database keeps
            db.session.commit()


def _login(client, username: str, password: str) -> None:
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/auth/login", data={"username": username, "password": password, "csrf_token": token})
    if response.status_code != 302:
        raise RuntimeError(f"bench login failed: {response.status_code}")


def _time(client, url: str, rounds: int = ROUNDS, **headers) -> list[float]:
    out = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        out.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
    return out


def p95(values: list[float]) -> float:
    """95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, int(round(0.95 * len(ordered))) - 1)]


def _voucher_urls(data: Fleetless) -> list[str]:
    batch = data.batch_ids[-1]
    filters = ["", *[f"state={s}" for s, _ in STATES], f"plan_id={data.plan_ids[0]}", f"batch_id={batch}",
               f"router_id={data.router_ids[0]}", f"reseller_id={data.reseller_ids[0]}", "q=S0000",
               f"state=active&router_id={data.router_ids[1]}", f"state=unused&plan_id={data.plan_ids[1]}"]
    return [f"/vouchers/?{f}&page={p}" for f in filters for p in (1, 50)]


def _other_urls(data: Fleetless) -> list[str]:
    from isp.extensions import db
    from isp.models import Voucher

    with data.h.app.app_context():
        voucher_id = db.session.scalar(db.select(db.func.max(Voucher.id)))
    return [f"/routers/{data.router_ids[0]}", "/monitoring/", "/monitoring/?page=20", "/vouchers/batches",
            f"/vouchers/batches/{data.batch_ids[-1]}", f"/vouchers/batches/{data.batch_ids[-1]}?page=50", "/routers/", "/",
            f"/vouchers/{voucher_id}", "/plans/", "/settings/users/", "/resellers/", f"/resellers/{data.reseller_ids[0]}", "/reports/"]


def _measure(data: Fleetless) -> tuple[list[float], dict[str, float]]:
    client = data.h.app.test_client()
    _login(client, data.admin_name, "Quiet-Harbour-7-Lantern")
    for url in _voucher_urls(data)[:4]:
        _time(client, url, 1)  # warm caches and templates
    per_url = {url: _time(client, url) for url in _voucher_urls(data)}
    if os.environ.get("BENCH_VERBOSE"):
        print("  " + "\n  ".join(f"{p95(v) * 1000:6.1f} ms {u}" for u, v in per_url.items()))
    voucher = [t for v in per_url.values() for t in v]
    others = {url: p95(_time(client, url)) for url in _other_urls(data)}
    reseller = data.h.app.test_client()
    _login(reseller, "scale-reseller-0", "Amber-Ferry-42-Meadow")
    voucher += [t for f in ("", "state=unused", "state=active") for p in (1, 50)
                for t in _time(reseller, f"/vouchers/?{f}&page={p}")]
    return voucher, others


def empty_database(url: str) -> str:
    """Drop every table of a throwaway benchmark database (BENCH_DATABASE_URL); returns its normalised URL."""
    from sqlalchemy import MetaData, create_engine

    from isp.config import normalise_db_url

    url = normalise_db_url("BENCH_DATABASE_URL", url)
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    meta.drop_all(engine)
    engine.dispose()
    return url


def p4v(h: Harness) -> None:
    """P4v: list and detail pages at 1,000 and 100,000 vouchers and outbox rows."""
    data = Fleetless(h)
    data.grow(1_000)
    small, _ = _measure(data)
    data.grow(100_000)
    large, others = _measure(data)
    worst = max(others, key=others.get)
    print(f"P4v detail: voucher list p95 {p95(small) * 1000:.1f} ms at 1,000, {p95(large) * 1000:.1f} ms at 100,000 "
          f"(median {statistics.median(large) * 1000:.1f} ms, max {max(large) * 1000:.1f} ms, {len(large)} requests); other "
          f"pages p95 at 100,000: " + ", ".join(f"{u} {v * 1000:.0f} ms" for u, v in others.items())
          + f"; slowest {worst}")
    where = data.h.app.config["SQLALCHEMY_DATABASE_URI"].split(":")[0]
    print(f"P4v: {p95(large) / p95(small):.1f}x (voucher list p95 at 100,000 vouchers vs 1,000, every filter, pages 1 and 50; "
          f"{p95(large) * 1000:.0f} ms; {where})")


# -- P15 ---------------------------------------------------------------------------------

P15_USERS = 100_000
P15_ONLINE = 200
P15_USED = 2_000  # used earlier, offline now: what the sweep reads besides the online ones


def _p15_data(h: Harness, sim, router_id: int) -> list[str]:
    """100,000 vouchers in the database and as hotspot users on the router; returns the codes."""
    from sqlalchemy import insert

    from isp.extensions import db
    from isp.models import User, Voucher, VoucherBatch, VoucherMode
    from isp.models.base import utcnow
    from isp.services import plans

    with h.app.app_context():
        admin_id = db.session.scalar(db.select(User.id).order_by(User.id))
        plan = plans.create_plan({"name": "Usage", "price": "1.00", "reseller_price": "1.00", "validity": "1d",
                                  "time_quota": "", "data_quota": "", "rate_limit": "", "shared_users": 1, "active": True,
                                  "router_ids": [router_id]})
        batch = VoucherBatch(plan_id=plan.id, router_id=router_id, created_by_id=admin_id, mode=VoucherMode.code,
                             prefix="U", code_length=8, count=P15_USERS, price=1, unit_cost=1, validity_seconds=86400,
                             profile_name="default")
        db.session.add(batch)
        db.session.flush()
        now, codes = utcnow(), [f"U{n:07d}" for n in range(P15_USERS)]
        rows = [{"batch_id": batch.id, "plan_id": plan.id, "router_id": router_id, "code": c, "password": c,
                 "state": "unused", "validity_seconds": 86400, "price": 1, "uptime_seconds": 0, "bytes_in": 0,
                 "bytes_out": 0, "state_changed_at": now, "created_at": now} for c in codes]
        for start in range(0, len(rows), 5000):
            db.session.execute(insert(Voucher.__table__), rows[start:start + 5000])
        db.session.commit()
    users = sim.state.menu("/ip/hotspot/user")
    for code in codes:
        sim.state.add("/ip/hotspot/user", name=code, password=code, profile="default")
    with sim.state.lock:  # used before, offline now (the simulator keeps closed sessions' uptime on the user)
        for item in list(users.items.values())[P15_ONLINE:P15_ONLINE + P15_USED]:
            item["uptime"], item["bytes-in"], item["bytes-out"] = "25m", "1000000", "9000000"
    for code in codes[:P15_ONLINE]:
        refusal = sim.login(code)
        if refusal:
            raise RuntimeError(f"simulated login of {code} refused: {refusal}")
    return codes


def _poll_cpu(h: Harness, router_id: int, sweep: bool) -> tuple[float, str]:
    from isp.jobs.vouchers import sync_usage

    with h.app.app_context():
        started = time.thread_time()  # this thread only: the simulator answers from its own thread
        outcome = sync_usage(router_id, sweep)
        return time.thread_time() - started, outcome


def _full_read_cpu(h: Harness, router_id: int) -> float:
    """What a poll reading every stored user costs (the design this replaces), measured the same way."""
    from isp.extensions import db
    from isp.jobs.vouchers import read_usage
    from isp.models import Router
    from isp.routeros.runtime import guarded
    from isp.services import voucher_lifecycle

    with h.app.app_context():
        started = time.thread_time()
        usage = guarded(db.session.get(Router, router_id), read_usage)
        voucher_lifecycle.apply_usage(router_id, {k: v for k, v in usage.items() if v["uptime"] or v["online"]})
        db.session.commit()
        return time.thread_time() - started


def p15(h: Harness, sim) -> None:
    """P15: usage poll CPU for one router storing 100,000 users, 200 of them online."""
    from isp.jobs.vouchers import SWEEP_EVERY

    router_id = h.add_router("p15", sim.port)
    _p15_data(h, sim, router_id)
    first, outcome = _poll_cpu(h, router_id, True)  # records the first logins and the used users
    cycle = [_poll_cpu(h, router_id, n == 0) for n in range(SWEEP_EVERY)]
    light = [c for c, _ in cycle[1:]]
    sweep = cycle[0][0]
    full = _full_read_cpu(h, router_id)
    mean = sum(c for c, _ in cycle) / len(cycle)
    print(f"P15 detail: first poll {first:.2f} s ({outcome}); then per poll {statistics.median(light):.3f} s median "
          f"(light, {P15_ONLINE} online), sweep {sweep:.3f} s ({P15_ONLINE + P15_USED:,} used users, one poll in "
          f"{SWEEP_EVERY}), mean {mean:.3f} s; reading every stored user instead costs {full:.2f} s per poll")
    print(f"P15: {max(c for c, _ in cycle):.2f} s (usage poll CPU for a router with {P15_USERS:,} users, {P15_ONLINE} active; "
          f"worst of a {SWEEP_EVERY}-poll cycle with its sweep, vs {full:.2f} s reading every user)")
