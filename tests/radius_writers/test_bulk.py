"""Set-based at scale: the billing run on a radius router, and a plan edit that reaches every subscriber at once."""
from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import event, insert, select

from isp import crypto
from isp.extensions import db as _db
from isp.models import Customer, RouterCommand, ServicePlan, Subscription, SubscriptionState
from isp.models.base import utcnow
from isp.radius import writers
from isp.radius.models import RadCheck, RadGroupReply, RadUserGroup
from isp.services import branding, periods, provisioning, renewal, service_plans
from tests.radius_writers.conftest import commands, groups_of, rows

S = SubscriptionState


@contextmanager
def statements():
    """Every SQL statement sent to either database meanwhile (an executemany counts once)."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    engines = {id(e): e for e in (_db.engines[None], _db.engines["radius"])}
    for engine in engines.values():
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        for engine in engines.values():
            event.remove(engine, "before_cursor_execute", record)


def _bulk_subscribers(world, plan_id: int, count: int, state: S, prefix: str, **values) -> list[int]:
    """`count` subscriptions of one customer, inserted set-based; returns their ids."""
    with world.app.app_context():
        customer = Customer(account_no=f"ISP-{prefix}", name=f"Bulk {prefix}")
        _db.session.add(customer)
        _db.session.flush()
        sealed = crypto.encrypt("bulk-pass")
        kind = _db.session.get(ServicePlan, plan_id).kind
        _db.session.execute(insert(Subscription), [
            {"customer_id": customer.id, "kind": kind, "username": f"{prefix}{n:05d}", "password_encrypted": sealed,
             "plan_id": plan_id, "router_id": world.router_id, "state": state, **values} for n in range(count)])
        _db.session.commit()
        return list(_db.session.scalars(select(Subscription.id).where(Subscription.username.like(f"{prefix}%"))))


def _suspend_run(world, plan: int, count: int, prefix: str) -> tuple[int, list[str]]:
    """Put `count` services in grace that ended, a few of them online; run the billing run's suspension step."""
    now = periods.second()
    _bulk_subscribers(world, plan, count, S.grace, prefix, paid_until=now - timedelta(days=4),
                      grace_until=now - timedelta(minutes=1), period_start=now - timedelta(days=34))
    for n in (0, count - 1):
        world.online(f"{prefix}{n:05d}")
    with world.app.app_context():
        branding.get()
        _db.session.commit()
        with statements() as seen:
            suspended = renewal.suspend(now)
            _db.session.commit()
    assert suspended == count
    return len(seen), seen


def test_the_billing_runs_suspension_of_many_radius_subscribers_is_set_based(app, world):
    plan = world.plan()
    few, _ = _suspend_run(world, plan, 40, "few")
    many, seen = _suspend_run(world, plan, 1_100, "many")  # three chunks of 500 users
    with app.app_context():
        assert groups_of("many00000") == groups_of("many01099") == [writers.SUSPENDED_GROUP]
        assert rows(RadCheck, "many00500") == {("Cleartext-Password", ":=", "bulk-pass")}
        assert sorted(commands("radius.disconnect")) == sorted(
            ("radius.disconnect", u, "critical") for u in ("few00000", "few00039", "many00000", "many01099"))
    user_writes = [s for s in seen if s.lstrip().upper().startswith(("DELETE", "INSERT"))
                   and any(t in s for t in ("radcheck", "radreply", "radusergroup"))]
    assert len(user_writes) <= 6 * 3  # one DELETE and at most one INSERT per table per chunk of 500
    # 27 times the subscribers, a bounded number of extra statements (chunks, not users).
    assert many - few <= 40, (few, many)


def test_a_renewal_by_the_billing_run_moves_the_expiration(app, world):
    plan = world.plan()
    sub = world.sub(plan, "rita", grace_days=0)
    with app.app_context():
        row = _db.session.get(Subscription, sub)
        row.paid_until = periods.second() - timedelta(hours=1)
        _db.session.commit()
        provisioning.sync(row)
        _db.session.commit()
        old = rows(RadCheck, "rita")
        from isp.models import EntryKind
        from isp.services import ledger

        ledger.post(ledger.customer_account(row.customer_id), EntryKind.payment, Decimal("20.00"), "cash", allow_overdraft=True)
        _db.session.commit()
        assert renewal.renew(periods.second()) == 1
        _db.session.commit()
        row = _db.session.get(Subscription, sub)
        assert rows(RadCheck, "rita") != old
        assert ("Expiration", ":=", writers.expiration(row.paid_until)) in rows(RadCheck, "rita")


def _edit(plan_id: int, **changes) -> None:
    plan = _db.session.get(ServicePlan, plan_id)
    data = {"name": plan.name, "kind": plan.kind.value, "price": str(plan.price), "period_unit": plan.period_unit.value,
            "period_count": plan.period_count, "rate_limit": plan.rate_limit, "data_cap": str(plan.data_cap_bytes or ""),
            "fup_rate_limit": plan.fup_rate_limit, "shared_users": plan.shared_users, "address_pool": plan.address_pool,
            "grace_days": "", "active": True, "router_ids": [r.id for r in plan.routers], **changes}
    service_plans.update_plan(plan, data)


def _synced(app, world, plan: int, names: list[str], **fields) -> None:
    ids = [world.sub(plan, name, **fields) for name in names]
    with app.app_context():
        provisioning.sync_many(ids)
        _db.session.commit()


def test_a_plan_edit_rewrites_group_rows_only_and_changes_the_speed_of_live_sessions(app, world):
    plan = world.plan(rate_limit="2M/4M", data_cap_bytes=10 ** 9, fup_rate_limit="256k/512k")
    _synced(app, world, plan, ["pat", "quinn", "ross"])
    with app.app_context():
        _db.session.get(Subscription, _db.session.scalar(select(Subscription.id).where(Subscription.username == "ross")))
    capped = world.sub(plan, "sam", fup_active=True)
    with app.app_context():
        provisioning.sync(_db.session.get(Subscription, capped))
        _db.session.commit()
    for name in ("pat", "sam"):
        world.online(name)
    with app.app_context():
        user_rows = [sorted(_db.session.execute(select(m.id, m.username, m.attribute, m.value)).tuples())
                     for m in (RadCheck,)] + [sorted(_db.session.execute(select(RadUserGroup.id, RadUserGroup.username,
                                                                                  RadUserGroup.groupname)).tuples())]
        with statements() as seen:
            _edit(plan, rate_limit="8M/16M", fup_rate_limit="1M/1M")
            _db.session.commit()
        name = _db.session.get(ServicePlan, plan).profile_name
        assert ("Mikrotik-Rate-Limit", "=", "8M/16M") in rows(RadGroupReply, name)
        assert ("Mikrotik-Rate-Limit", "=", "1M/1M") in rows(RadGroupReply, f"{name}-fup")
        assert [s for s in seen if any(t in s for t in ("radcheck", "radreply", "radusergroup"))] == []
        assert user_rows == [sorted(_db.session.execute(select(m.id, m.username, m.attribute, m.value)).tuples())
                             for m in (RadCheck,)] + [sorted(_db.session.execute(select(
                                 RadUserGroup.id, RadUserGroup.username, RadUserGroup.groupname)).tuples())]
        coas = {json.loads(c.payload_json)["username"]: (json.loads(c.payload_json)["attributes"], c.priority.value)
                for c in _db.session.scalars(select(RouterCommand).where(RouterCommand.operation == "radius.coa"))}
        assert coas == {"pat": ({"Mikrotik-Rate-Limit": "8M/16M"}, "high"), "sam": ({"Mikrotik-Rate-Limit": "1M/1M"}, "high")}


def test_a_plan_edit_disconnects_live_sessions_when_settings_say_so(app, world):
    plan = world.plan(rate_limit="2M/4M")
    _synced(app, world, plan, ["tara", "uma"])
    world.online("uma")
    with app.app_context():
        branding.get().radius_plan_change_action = "disconnect"
        _db.session.commit()
        _edit(plan, rate_limit="3M/6M")
        _db.session.commit()
        assert commands() == [("radius.disconnect", "uma", "high")]


def test_dropping_a_plans_cap_moves_its_capped_users_to_the_plan_group(app, world):
    plan = world.plan(rate_limit="2M/4M", data_cap_bytes=10 ** 9, fup_rate_limit="256k/512k")
    _synced(app, world, plan, ["vic"], fup_active=True)
    with app.app_context():
        name = _db.session.get(ServicePlan, plan).profile_name
        assert groups_of("vic") == [f"{name}-fup"]
        _edit(plan, data_cap="", fup_rate_limit="")
        _db.session.commit()
        assert groups_of("vic") == [name] and rows(RadGroupReply, f"{name}-fup") == set()


def test_thousands_of_subscribers_rows_are_not_touched_by_a_plan_edit(app, world):
    plan = world.plan(rate_limit="2M/4M")
    ids = _bulk_subscribers(world, plan, 2_000, S.active, "big", paid_until=utcnow() + timedelta(days=9))
    with app.app_context():
        provisioning.sync_many(ids)
        _db.session.commit()
        with statements() as seen:
            _edit(plan, rate_limit="4M/8M")
            _db.session.commit()
        assert len(seen) < 40  # the plan, its groups, the members' names and one radacct read per 500
        assert _db.session.scalar(select(RadUserGroup.groupname).where(RadUserGroup.username == "big01999")) \
            == _db.session.get(ServicePlan, plan).profile_name
