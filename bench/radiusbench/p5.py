"""P5: a plan edit re-syncs its 10,000 subscribers on a radius-mode router in one transaction.

10,000 PPPoE subscriptions of one plan on a radius-mode router, their FreeRADIUS rows written by the writers
(`provisioning.sync_many`, not timed), every one of them online (an open radacct row). Timed: the plan edit as
the plan form saves it (`service_plans.update_plan` with a new rate limit, then one commit): the plan's group
rows rewritten, the members online found in radacct, and a CoA with the new `Mikrotik-Rate-Limit` queued for
each on `high` (the Settings default), all in one transaction. The line also checks the outcome: the group
carries the new rate, no user row changed, and one CoA per subscriber is queued.

SQLite by default (a temp file); BENCH_DATABASE_URL (a throwaway MariaDB database: its tables are dropped
first) for MariaDB, the radius tables in the same database (one connection, one transaction).
`python bench/radiusbench/p5.py` prints the line.
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

COUNT = 10_000
CHUNK = 2_000


def _setup(h) -> tuple[int, int]:
    """The radius router, the plan and its subscribers with their rows written and sessions open; (plan, router)."""
    from sqlalchemy import insert

    from isp import crypto
    from isp.extensions import db
    from isp.models import Customer, Router, RouterMode, ServiceKind, ServicePlan, Subscription, SubscriptionState
    from isp.models.base import utcnow
    from isp.radius.models import RadAcct
    from isp.services import provisioning
    from isp.sqlutil import chunked

    with h.app.app_context():
        db.create_all(bind_key="radius")  # the stock tables, where the radius migrations have not made them
        router = Router(name="p5-nas", addresses_text="127.0.0.1", username="admin", password_encrypted=crypto.encrypt("x"),
                        mode=RouterMode.radius)
        plan = ServicePlan(name="P5 Home", kind=ServiceKind.pppoe,
                           profile_name="isp-svc-p5-home", price=Decimal("20.00"), rate_limit="5M/10M",
                           data_cap_bytes=100 * 10 ** 9, fup_rate_limit="1M/2M")
        plan.routers = [router]
        customer = Customer(account_no="P5-000001", name="P5 bench")
        db.session.add_all([router, plan, customer])
        db.session.commit()
        now = utcnow().replace(microsecond=0)
        sealed = crypto.encrypt("p5-bench-pass")
        for part in chunked(range(COUNT), CHUNK):
            db.session.execute(insert(Subscription), [
                {"customer_id": customer.id, "kind": plan.kind, "username": f"p5u{n:05d}", "password_encrypted": sealed,
                 "plan_id": plan.id, "router_id": router.id, "state": SubscriptionState.active, "fup_active": n % 10 == 0,
                 "period_start": now - timedelta(days=5), "paid_until": now + timedelta(days=25)} for n in part])
            db.session.execute(insert(RadAcct), [
                {"acctsessionid": f"p5s{n}", "acctuniqueid": f"p5u{n:05d}", "username": f"p5u{n:05d}",
                 "nasipaddress": "127.0.0.1", "acctstarttime": now.replace(tzinfo=None), "framedipaddress": "10.50.0.1"}
                for n in part])
        db.session.commit()
        ids = list(db.session.scalars(db.select(Subscription.id).where(Subscription.plan_id == plan.id)))
        provisioning.sync_many(ids, kick=False)
        db.session.commit()
        return plan.id, router.id


def _edit(plan_id: int) -> None:
    from isp.extensions import db
    from isp.models import ServicePlan
    from isp.services import service_plans

    plan = db.session.get(ServicePlan, plan_id)
    service_plans.update_plan(plan, {
        "name": plan.name, "kind": plan.kind.value, "price": str(plan.price), "period_unit": plan.period_unit.value,
        "period_count": plan.period_count, "rate_limit": "10M/20M 20M/40M 8M/16M 16/16", "data_cap": "100GB",
        "fup_rate_limit": "2M/4M", "shared_users": 1, "address_pool": "", "grace_days": "", "active": True,
        "router_ids": [r.id for r in plan.routers]})


def _check(h, plan_id: int, before: int) -> str:
    """What the edit did, or why the line cannot be trusted (raises)."""
    from sqlalchemy import func, select

    from isp.extensions import db
    from isp.models import RouterCommand, ServicePlan
    from isp.radius.models import RadCheck, RadGroupReply, RadUserGroup

    with h.app.app_context():
        plan = db.session.get(ServicePlan, plan_id)
        rate = db.session.scalar(select(RadGroupReply.value).where(RadGroupReply.groupname == plan.profile_name,
                                                                    RadGroupReply.attribute == "Mikrotik-Rate-Limit"))
        coas = db.session.scalar(select(func.count()).select_from(RouterCommand).where(RouterCommand.operation == "radius.coa"))
        users = db.session.scalar(select(func.count()).select_from(RadUserGroup))
        last = db.session.scalar(select(func.max(RadCheck.id)))
    if rate != "10M/20M 20M/40M 8M/16M 16/16" or coas != COUNT or users != COUNT or last != before:
        raise RuntimeError(f"P5 did not do its work: rate {rate!r}, {coas} CoAs, {users} users, radcheck max id {last} "
                           f"(was {before})")
    return f"{coas:,} CoAs queued"


def run() -> str:
    """Build the data, time the plan edit and its commit; the P5 line."""
    import shutil
    import tempfile

    from _harness import Harness

    instance = tempfile.mkdtemp(prefix="isp-bench-instance-")
    os.environ["ISP_INSTANCE_PATH"] = instance
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        from _scale import empty_database

        url = empty_database(url)
    else:
        url = f"sqlite:///{instance}/p5.db"
    # The radius tables in the same file / database as ours: one connection, one transaction.
    h = Harness(SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_BINDS={"radius": url})
    try:
        from sqlalchemy import func, select

        from isp.extensions import db
        from isp.radius.models import RadCheck

        plan_id, _router = _setup(h)
        with h.app.app_context():
            before = db.session.scalar(select(func.max(RadCheck.id)))
            db.session.commit()
            started = time.perf_counter()
            _edit(plan_id)
            db.session.commit()
            took = time.perf_counter() - started
        done = _check(h, plan_id, before)
        where = h.app.config["SQLALCHEMY_DATABASE_URI"].split(":")[0]
        if os.environ.get("BENCH_VERBOSE"):
            print(f"  P5: {done}; {where}")
        return f"P5: {took:.1f} s (plan change re-synced {COUNT:,} subscribers, one transaction)"
    finally:
        h.close()
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    print(run())
