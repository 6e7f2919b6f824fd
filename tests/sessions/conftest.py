"""Fixtures for the session poll: a frozen-clock simulator, and subscriptions built straight from the models."""
from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from isp.extensions import db as _db
from tests.conftest import SIM_PASSWORD


@pytest.fixture
def quiet_sim():
    """One simulated router on a frozen clock moved by hand (fleet.advance), fresh per test."""
    from routeros_sim import Fleet, RouterConfig

    with Fleet([RouterConfig(name="poll", password=SIM_PASSWORD, tls_port=None, session_mean=1e12, idle_mean=1e12)],
               speed=0) as fleet:
        yield fleet


@pytest.fixture
def box(app, quiet_sim, make_router):
    """The simulated router registered in the panel: .sim (VirtualRouter), .fleet, .id."""
    router = make_router(quiet_sim.routers[0])
    return SimpleNamespace(sim=quiet_sim.routers[0], fleet=quiet_sim, id=router.id)


@pytest.fixture
def make_sub(app):
    """make_sub(router_id, kind, username, **fields) -> id: a customer, a plan of that kind and an active service."""
    from isp.models import Customer, ServiceKind, ServicePlan, Subscription, SubscriptionState
    from isp.models.base import utcnow

    counter = {"n": 0}

    def factory(router_id, kind="pppoe", username=None, cap=None, fup_rate="", static_ip=None, caller_id="",
                state=SubscriptionState.active):
        counter["n"] += 1
        n = counter["n"]
        with app.app_context():
            customer = Customer(account_no=f"T-{n:06d}", name=f"Customer {n}")
            plan = ServicePlan(name=f"Plan {n}", kind=ServiceKind(kind), profile_name=f"plan{n}", price=Decimal("20.00"),
                               rate_limit="5M/10M", data_cap_bytes=cap, fup_rate_limit=fup_rate)
            _db.session.add_all([customer, plan])
            _db.session.flush()
            now = utcnow()
            sub = Subscription(customer_id=customer.id, kind=ServiceKind(kind), username=username or f"sub{n}",
                               plan_id=plan.id, router_id=router_id, static_ip=static_ip, caller_id=caller_id,
                               state=state, started_at=now, period_start=now)
            _db.session.add(sub)
            _db.session.commit()
            return sub.id

    return factory


def poll(app, router_id):
    """One session poll of the router, as the worker runs it."""
    from isp.jobs.sessions import poll_sessions

    with app.app_context():
        return poll_sessions(router_id)


def sub_row(app, sub_id):
    """A detached copy of a subscription."""
    from isp.models import Subscription

    with app.app_context():
        sub = _db.session.get(Subscription, sub_id)
        _db.session.expunge(sub)
        return sub


def sessions_of(app, sub_id):
    """Every ServiceSession of a subscription, oldest first, detached."""
    from isp.models import ServiceSession

    with app.app_context():
        rows = list(_db.session.scalars(select(ServiceSession).where(ServiceSession.subscription_id == sub_id)
                                        .order_by(ServiceSession.id)))
        for row in rows:
            _db.session.expunge(row)
        return rows


def usage(app, sub_id):
    """(bytes_in, bytes_out) summed over the subscription's UsageDaily rows."""
    from isp.models import UsageDaily

    with app.app_context():
        rows = _db.session.execute(select(UsageDaily.bytes_in, UsageDaily.bytes_out)
                                   .where(UsageDaily.subscription_id == sub_id)).all()
        return sum(r[0] for r in rows), sum(r[1] for r in rows)


def live(app, *sub_ids):
    """sessions.live_state for the ids."""
    from isp.services import sessions

    with app.app_context():
        return sessions.live_state(list(sub_ids))


def iface_bytes(sim, user):
    """(rx, tx) of the user's <pppoe-USER> interface right now."""
    row = next(i for i in sim.state.rows("/interface") if i["name"] == f"<pppoe-{user}>")
    return int(row["rx-byte"]), int(row["tx-byte"])
