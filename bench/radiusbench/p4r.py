"""P4r: the online-now and usage pages of radius-mode routers at 1,000,000 radacct rows vs 10,000.

Two radius-mode routers, 2,000 PPPoE subscriptions (a quarter of them a reseller's) and 1,000 vouchers, 2,000
sessions open (radacct acctstoptime IS NULL) and the rest history: closed sessions of the same users, so the
open set stays what it is (who is online) while radacct grows 100-fold. Rows are inserted set-based; the
rollup (`radius_sessions.rollup`, as the clock's job runs it) reads radacct into the daily usage before
each measurement, as it would have in production.

Two databases side by side, one at 10,000 rows and one at 1,000,000, the requests alternating between them so
both see the same machine load. Timed through the Flask test client, logged in: the online-now page (pages 1 and 20, a username prefix, a
router filter, as htmx fragments too, and a reseller's scoped view), a radius subscription's customer page
(sessions from radacct, usage from the rollup) and a voucher's sessions and usage page. p95 over every request.

SQLite by default (temp files); for MariaDB, BENCH_DATABASE_URL (1,000,000) and BENCH_SMALL_DATABASE_URL
(10,000), two throwaway databases whose tables are dropped first, the radius tables in each. `python bench/radiusbench/p4r.py` prints the line;
BENCH_VERBOSE=1 adds the p95 per URL and the query plans.
"""
from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from decimal import Decimal

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if BENCH not in sys.path:
    sys.path.insert(0, BENCH)

SUBS = 2_000
VOUCHERS = 1_000
CHUNK = 5_000
ROUNDS = 7
ADMIN = ("p4r-admin", "Quiet-Harbour-7-Lantern")
RESELLER = ("p4r-reseller", "Amber-Ferry-42-Meadow")
TUNNELS = ("10.100.0.2", "10.100.0.3")


class Data:
    """Routers, subscriptions, vouchers and users; radacct rows added in bulk by `grow`."""

    def __init__(self, h) -> None:
        from sqlalchemy import insert, update

        from isp import crypto
        from isp.extensions import db
        from isp.models import (
            Customer,
            HotspotPlan,
            Role,
            Router,
            RouterMode,
            ServiceKind,
            ServicePlan,
            Subscription,
            SubscriptionState,
            User,
            Voucher,
            VoucherBatch,
            VoucherMode,
            VoucherState,
        )
        from isp.models.base import utcnow
        from isp.services import users

        self.h = h
        with h.app.app_context():
            db.create_all(bind_key="radius")  # the stock tables, where the radius migrations have not made them
            users.create_user(ADMIN[0], ADMIN[1], Role.admin)
            reseller = users.create_user(RESELLER[0], RESELLER[1], Role.reseller)
            db.session.flush()
            db.session.execute(update(User).where(User.id == reseller.id).values(can_sell_services=True))
            routers = [Router(name=f"p4r-nas-{i}", addresses_text="127.0.0.1", username="admin",
                              password_encrypted=crypto.encrypt("x"), mode=RouterMode.radius, tunnel_address=t)
                       for i, t in enumerate(TUNNELS)]
            plan = ServicePlan(name="P4r Home", kind=ServiceKind.pppoe, profile_name="isp-svc-p4r", price=Decimal("20.00"),
                               rate_limit="5M/10M")
            hplan = HotspotPlan(name="P4r Day", profile_name="p4r-day", price=Decimal("1.00"), reseller_price=Decimal("0.80"),
                                validity_seconds=86400)
            db.session.add_all([*routers, plan, hplan])
            db.session.flush()
            batch = VoucherBatch(plan_id=hplan.id, router_id=routers[0].id, mode=VoucherMode.code, code_length=8,
                                 count=VOUCHERS, price=Decimal("1.00"), unit_cost=Decimal("0.80"), validity_seconds=86400,
                                 profile_name="p4r-day", reseller_id=reseller.id)
            db.session.add(batch)
            db.session.flush()
            now = utcnow().replace(microsecond=0)
            sealed = crypto.encrypt("p4r-bench-pass")
            db.session.execute(insert(Customer), [
                {"id": n + 1, "account_no": f"P4R-{n:05d}", "name": f"P4r customer {n}",
                 "reseller_id": reseller.id if n % 4 == 0 else None} for n in range(SUBS)])
            db.session.execute(insert(Subscription), [
                {"customer_id": n + 1, "kind": ServiceKind.pppoe, "username": f"p4r{n:05d}", "password_encrypted": sealed,
                 "plan_id": plan.id, "router_id": routers[n % 2].id, "state": SubscriptionState.active,
                 "period_start": now - timedelta(days=5), "paid_until": now + timedelta(days=25),
                 "created_at": now - timedelta(days=400)} for n in range(SUBS)])  # older than all their history
            db.session.execute(insert(Voucher), [
                {"batch_id": batch.id, "plan_id": hplan.id, "router_id": routers[0].id, "reseller_id": reseller.id,
                 "code": f"V{n:07d}", "password": f"V{n:07d}", "state": VoucherState.active, "validity_seconds": 86400,
                 "price": Decimal("1.00"), "created_at": now - timedelta(days=400)} for n in range(VOUCHERS)])
            db.session.commit()
            self.router_id = routers[1].id
            self.customer_id = 7  # subscription p4r00006
            self.voucher_id = db.session.scalar(db.select(Voucher.id).where(Voucher.code == "V0000006"))
        self.count = 0

    @staticmethod
    def username(n: int) -> str:
        k = n % (SUBS + VOUCHERS)
        return f"p4r{k:05d}" if k < SUBS else f"V{k - SUBS:07d}"

    def grow(self, total: int) -> None:
        """radacct rows until there are `total`: the first SUBS + VOUCHERS - 1,000 open, the rest closed history."""
        from sqlalchemy import insert

        from isp.extensions import db
        from isp.models.base import utcnow
        from isp.radius.models import RadAcct

        online = SUBS + VOUCHERS - 1_000
        with self.h.app.app_context():
            now = utcnow().replace(microsecond=0, tzinfo=None)
            while self.count < total:
                rows = []
                for n in range(self.count, min(self.count + CHUNK, total)):
                    is_open = n < online
                    start = now - timedelta(minutes=30) if is_open else now - timedelta(days=30, seconds=-n)
                    rows.append({"acctsessionid": f"{n:08x}", "acctuniqueid": f"p4r{n:010d}", "username": self.username(n),
                                 "nasipaddress": TUNNELS[n % 2], "nasportid": "", "nasporttype": "Virtual",
                                 "acctstarttime": start, "acctupdatetime": start + timedelta(minutes=29),
                                 "acctstoptime": None if is_open else start + timedelta(minutes=40), "acctinterval": 300,
                                 "acctsessiontime": 1740 if is_open else 2400, "acctauthentic": "RADIUS",
                                 "acctinputoctets": 10_000_000 + n, "acctoutputoctets": 5 * 2 ** 32 + n,
                                 "calledstationid": "pppoe-in", "callingstationid": f"AA:BB:CC:{n % 256:02X}:{n // 256 % 256:02X}:01",
                                 "acctterminatecause": "" if is_open else "User-Request", "servicetype": "Framed-User",
                                 "framedprotocol": "PPP", "framedipaddress": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"})
                db.session.execute(insert(RadAcct.__table__), rows)
                db.session.commit()
                self.count += len(rows)
            analyze = "ANALYZE" if db.engine.dialect.name == "sqlite" else "ANALYZE TABLE radacct"
            db.session.execute(db.text(analyze))
            db.session.commit()

    def rollup(self) -> float:
        """The clock's rollup over what is new; returns its duration."""
        from isp.extensions import db
        from isp.services import radius_sessions

        with self.h.app.app_context():
            started = time.perf_counter()
            while True:
                counts = radius_sessions.rollup(batch=100_000)
                db.session.commit()
                if not counts["more"]:
                    break
            return time.perf_counter() - started


def _urls(data: Data) -> list[tuple[str, str, bool]]:
    """(what, URL, as reseller)."""
    return [("online p1", "/sessions/", False), ("online p20", "/sessions/?page=20", False),
            ("online prefix", "/sessions/?q=p4r0001", False), ("online router", f"/sessions/?router_id={data.router_id}", False),
            ("online router p10", f"/sessions/?router_id={data.router_id}&page=10", False),
            ("customer page", f"/customers/{data.customer_id}", False),
            ("voucher usage", f"/sessions/vouchers/{data.voucher_id}", False),
            ("reseller online", "/sessions/", True), ("reseller online p5", "/sessions/?page=5", True)]


def _clients(data: Data) -> tuple:
    from _scale import _login

    staff, reseller = data.h.app.test_client(), data.h.app.test_client()
    _login(staff, *ADMIN)
    _login(reseller, *RESELLER)
    return staff, reseller


def _measure(small: Data, large: Data) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Every URL on both databases, requests alternating between them so both see the same machine load."""
    from _scale import _time

    sides = [(small, _clients(small)), (large, _clients(large))]
    asks = []
    for what, url, as_reseller in _urls(small):
        asks.append((what, as_reseller, {}))
        if "/sessions/?" in url:
            asks.append((f"{what} (htmx)", as_reseller, {"HX-Request": "true"}))
    urls = [{what: url for what, url, _ in _urls(data)} for data, _ in sides]
    for k, (_data, (staff, reseller)) in enumerate(sides):  # warm caches, templates and the database's pages
        for what, as_reseller, headers in asks:
            _time(reseller if as_reseller else staff, urls[k][what.split(" (")[0]], 3, **headers)
    out: tuple[dict, dict] = ({}, {})
    for n in range(ROUNDS):
        for what, as_reseller, headers in asks:
            order = (0, 1) if n % 2 == 0 else (1, 0)
            for k in order:
                _data, (staff, reseller) = sides[k]
                client = reseller if as_reseller else staff
                out[k].setdefault(what, []).extend(_time(client, urls[k][what.split(" (")[0]], 1, **headers))
    return out


def _plans(data: Data) -> None:
    """Print the query plans of the online page's statements (BENCH_VERBOSE)."""
    from isp.extensions import db

    with data.h.app.app_context():
        sqlite = db.engine.dialect.name == "sqlite"
        explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
        radacct = "radacct"
        for sql in (f"SELECT radacctid FROM {radacct} WHERE acctstoptime IS NULL ORDER BY radacctid DESC LIMIT 50 OFFSET 950",
                    f"SELECT radacctid FROM {radacct} WHERE acctstoptime IS NULL AND nasipaddress = '{TUNNELS[1]}' "
                    "ORDER BY radacctid DESC LIMIT 50",
                    f"SELECT radacctid FROM {radacct} WHERE acctstoptime IS NULL AND username LIKE 'p4r0001%' "
                    "ORDER BY radacctid DESC LIMIT 50",
                    f"SELECT * FROM {radacct} WHERE username = 'p4r00006' ORDER BY radacctid DESC LIMIT 10"):
            rows = db.session.execute(db.text(explain + sql)).all()
            print(f"  {sql}\n    " + "\n    ".join(str(tuple(r)) for r in rows))


def _open(instance: str, name: str, url: str | None, total: int) -> Data:
    """A harness on its own database, filled to `total` radacct rows and rolled up."""
    from _harness import Harness

    if url:
        from _scale import empty_database

        url = empty_database(url)
    else:
        url = f"sqlite:///{instance}/{name}.db"
    data = Data(Harness(SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_BINDS={"radius": url}))
    started = time.perf_counter()
    data.grow(total)
    data.filled = time.perf_counter() - started
    data.rolled = data.rollup()
    return data


def run() -> str:
    """Two databases side by side (10,000 and 1,000,000 radacct rows), the same pages timed on both; the P4r line."""
    import shutil
    import tempfile

    from _scale import p95

    instance = tempfile.mkdtemp(prefix="isp-bench-instance-")
    os.environ["ISP_INSTANCE_PATH"] = instance
    url = os.environ.get("BENCH_DATABASE_URL")
    small_url = os.environ.get("BENCH_SMALL_DATABASE_URL")
    if url and not small_url:
        raise RuntimeError("P4r on MariaDB needs a second throwaway database: BENCH_SMALL_DATABASE_URL")
    verbose = os.environ.get("BENCH_VERBOSE")
    opened: list[Data] = []
    try:
        opened.append(_open(instance, "small", small_url, 10_000))
        opened.append(_open(instance, "large", url, 1_000_000))
        small, large = opened
        small_urls, large_urls = _measure(small, large)
        if verbose:
            print(f"  radacct filled to 1,000,000 in {large.filled:.0f} s; rollup of them {large.rolled:.1f} s")
            for what, values in sorted(large_urls.items(), key=lambda kv: -p95(kv[1])):
                print(f"  {p95(values) * 1000:6.1f} ms at 1,000,000, {p95(small_urls[what]) * 1000:6.1f} ms at 10,000  {what}")
            _plans(large)
        a = p95([t for v in large_urls.values() for t in v]) * 1000
        b = p95([t for v in small_urls.values() for t in v]) * 1000
        where = large.h.app.config["SQLALCHEMY_DATABASE_URI"].split(":")[0]
        return (f"P4r: {a / b:.1f}x (online-now and usage pages p95 at 1,000,000 radacct rows vs 10,000; "
                f"{a:.0f} ms vs {b:.0f} ms, {where})")
    finally:
        for data in opened:
            data.h.close()
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    print(run())
