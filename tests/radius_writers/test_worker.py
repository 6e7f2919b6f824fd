"""Bulk CoAs and Disconnects (a plan edit, a mass suspension) reach the router as RFC 5176 packets via the worker."""
from __future__ import annotations

import json

from sqlalchemy import select

from isp.extensions import db as _db
from isp.models import CommandState, RouterCommand, ServicePlan
from isp.services import periods, renewal, service_plans
from tests.conftest import run_worker
from tests.radius_vouchers.conftest import radius_router, responder  # noqa: F401 (fixtures: a NAS peer)
from tests.radius_writers.conftest import World

MEMBERS = 25  # more than radius_commands.BULK_OVER: the commands go in bulk, in chunk jobs


def _world(app, radius_router) -> tuple[World, int, list[str]]:  # noqa: F811
    world = World(app, radius_router.id)
    plan = world.plan(rate_limit="2M/4M")
    names = [f"bulk{n:02d}" for n in range(MEMBERS)]
    ids = [world.sub(plan, name) for name in names]
    with app.app_context():
        from isp.models import Router
        from isp.services import provisioning

        _db.session.get(ServicePlan, plan).routers = [_db.session.get(Router, radius_router.id)]
        provisioning.sync_many(ids)
        _db.session.commit()
    for name in names:
        world.online(name)
        radius_router.responder.sessions[name] = {f"s-{name}"}
    return world, plan, names


def _settled(app, operation: str) -> list[tuple[str, CommandState, bool]]:
    with app.app_context():
        return sorted((json.loads(c.payload_json)["username"], c.state, c.group_key is not None)
                      for c in _db.session.scalars(select(RouterCommand).where(RouterCommand.operation == operation)))


def test_a_plan_edit_changes_the_speed_of_every_live_session_by_coa(app, radius_router):  # noqa: F811
    _world_, plan, names = _world(app, radius_router)
    with app.app_context():
        row = _db.session.get(ServicePlan, plan)
        service_plans.update_plan(row, {"name": row.name, "kind": "pppoe", "price": "20.00", "period_unit": "month",
                                        "period_count": 1, "rate_limit": "6M/12M", "shared_users": 1,
                                        "router_ids": [radius_router.id], "active": True})
        _db.session.commit()
    run_worker(app)
    sent = radius_router.responder.received
    assert sorted(p["User-Name"][0] for p in sent) == names
    assert {p["Mikrotik-Rate-Limit"][0] for p in sent} == {"6M/12M"}
    assert _settled(app, "radius.coa") == [(name, CommandState.done, True) for name in names]
    assert all(radius_router.responder.sessions[name] for name in names)  # changed in place, not ended


def test_a_mass_suspension_disconnects_every_live_session(app, radius_router):  # noqa: F811
    from datetime import timedelta

    from sqlalchemy import update

    from isp.models import Subscription, SubscriptionState

    _world_, _plan, names = _world(app, radius_router)
    now = periods.second()
    with app.app_context():
        _db.session.execute(update(Subscription).values(state=SubscriptionState.grace, grace_until=now - timedelta(seconds=1)))
        _db.session.commit()
        assert renewal.suspend(now) == MEMBERS
        _db.session.commit()
    run_worker(app)
    assert sorted(p["User-Name"][0] for p in radius_router.responder.received) == names
    assert _settled(app, "radius.disconnect") == [(name, CommandState.done, True) for name in names]
    assert not any(radius_router.responder.sessions[name] for name in names)


def test_a_silent_router_costs_one_timeout_per_chunk_then_the_api_fallback(app, radius_router):  # noqa: F811
    _world_, plan, names = _world(app, radius_router)
    radius_router.responder.silent = True
    with app.app_context():
        row = _db.session.get(ServicePlan, plan)
        service_plans.update_plan(row, {"name": row.name, "kind": "pppoe", "price": "20.00", "period_unit": "month",
                                        "period_count": 1, "rate_limit": "6M/12M", "shared_users": 1,
                                        "router_ids": [radius_router.id], "active": True})
        _db.session.commit()
    run_worker(app)
    # One CoA-Request (sent 1 + RADIUS_COA_RETRIES times), not one per session: the rest went to the API at once.
    assert len(radius_router.responder.received) == 2
    assert {state for _name, state, _bulk in _settled(app, "radius.coa")} == {CommandState.done}
