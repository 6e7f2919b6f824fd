"""Fixtures for radius-mode sessions: the radius tables, a radius router, subscriptions, vouchers and radacct rows."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import delete, insert

from isp.extensions import db as _db

TUNNEL = "10.100.0.7"


@pytest.fixture(autouse=True)
def radius_tables(app):
    """The stock radius tables on the radius bind (created if the bind's migrations have not), emptied after the test."""
    from isp.radius.models import NasReload, RadAcct, RadPostAuth

    with app.app_context():
        _db.create_all(bind_key="radius")
    yield
    with app.app_context():
        for model in (RadAcct, RadPostAuth, NasReload):
            _db.session.execute(delete(model))
        _db.session.commit()
        _db.session.remove()


@pytest.fixture
def world(app):
    """A radius-mode router (tunnel address TUNNEL), a service plan, a voucher plan and batch; returns their ids."""
    from isp import crypto
    from isp.models import HotspotPlan, Router, RouterMode, ServiceKind, ServicePlan, VoucherBatch, VoucherMode

    with app.app_context():
        router = Router(name="rad-1", addresses_text="127.0.0.1", username="admin", password_encrypted=crypto.encrypt("x"),
                        mode=RouterMode.radius, tunnel_address=TUNNEL)
        other = Router(name="rad-2", addresses_text="127.0.0.2", username="admin", password_encrypted=crypto.encrypt("x"),
                       mode=RouterMode.radius, tunnel_address="10.100.0.8")
        plan = ServicePlan(name="Home", kind=ServiceKind.pppoe, profile_name="home", price=Decimal("20.00"),
                           rate_limit="5M/10M", shared_users=1)
        hplan = HotspotPlan(name="Day", profile_name="day", price=Decimal("1.00"), reseller_price=Decimal("0.80"),
                            validity_seconds=86400)
        _db.session.add_all([router, other, plan, hplan])
        _db.session.flush()
        batch = VoucherBatch(plan_id=hplan.id, router_id=router.id, mode=VoucherMode.code, code_length=8, count=10,
                             price=Decimal("1.00"), unit_cost=Decimal("0.80"), validity_seconds=86400, profile_name="day")
        _db.session.add(batch)
        _db.session.commit()
        return SimpleNamespace(router_id=router.id, other_router_id=other.id, plan_id=plan.id, hplan_id=hplan.id,
                               batch_id=batch.id)


@pytest.fixture
def make_sub(app, world):
    """make_sub(username, reseller_id=None, state='active', password='pw-1234', **fields) -> subscription id, customer id."""
    from isp import crypto
    from isp.models import Customer, ServiceKind, Subscription, SubscriptionState

    counter = {"n": 0}

    def factory(username: str, reseller_id: int | None = None, state: str = "active", password: str = "pw-1234",
                **fields: object) -> SimpleNamespace:
        counter["n"] += 1
        with app.app_context():
            customer = Customer(account_no=f"T-{counter['n']:04d}-{username}"[:32], name=f"Customer {username}",
                                reseller_id=reseller_id)
            _db.session.add(customer)
            _db.session.flush()
            now = datetime.now(UTC)
            values = {"customer_id": customer.id, "kind": ServiceKind.pppoe, "username": username,
                      "password_encrypted": crypto.encrypt(password), "plan_id": world.plan_id,
                      "router_id": world.router_id, "state": SubscriptionState(state), "started_at": now - timedelta(days=10),
                      "period_start": now - timedelta(days=10), "paid_until": now + timedelta(days=20),
                      "state_changed_at": now - timedelta(days=10), "created_at": now - timedelta(days=30)}
            values.update(fields)
            sub = Subscription(**values)
            _db.session.add(sub)
            _db.session.commit()
            return SimpleNamespace(id=sub.id, customer_id=customer.id, username=username)

    return factory


@pytest.fixture
def make_voucher(app, world):
    """make_voucher(code, reseller_id=None, **fields) -> voucher id."""
    from isp.models import Voucher, VoucherState

    def factory(code: str, reseller_id: int | None = None, **fields: object) -> int:
        with app.app_context():
            values = {"batch_id": world.batch_id, "plan_id": world.hplan_id, "router_id": world.router_id,
                      "reseller_id": reseller_id, "code": code, "password": code, "state": VoucherState.active,
                      "validity_seconds": 86400, "price": Decimal("1.00")}
            values.update(fields)
            voucher = Voucher(**values)
            _db.session.add(voucher)
            _db.session.commit()
            return voucher.id

    return factory


def naive(at: datetime) -> datetime:
    """An aware time as radacct holds it (the RADIUS database's zone: UTC in the tests)."""
    return at.astimezone(UTC).replace(tzinfo=None)


@pytest.fixture
def acct(app):
    """acct(username, **columns) -> radacctid: a radacct row as FreeRADIUS's Start writes it (open, counters 0)."""
    from isp.radius.models import RadAcct

    counter = {"n": 0}

    def factory(username: str, **columns: object) -> int:
        counter["n"] += 1
        now = datetime.now(UTC)
        row = {"acctsessionid": f"s{counter['n']}", "acctuniqueid": f"u{counter['n']:06d}{username}"[:32],
               "username": username, "nasipaddress": TUNNEL, "acctstarttime": naive(now - timedelta(minutes=5)),
               "acctupdatetime": naive(now - timedelta(minutes=1)), "acctinterval": 300, "acctsessiontime": 240,
               "acctinputoctets": 0, "acctoutputoctets": 0, "framedipaddress": "10.10.0.2",
               "callingstationid": "AA:BB:CC:00:00:01"}
        row.update(columns)
        with app.app_context():
            result = _db.session.execute(insert(RadAcct.__table__).values(**row))
            _db.session.commit()
            return int(result.inserted_primary_key[0])

    return factory


def interim(app, radacctid: int, **columns: object) -> None:
    """Update a radacct row as an Interim-Update or Stop does (cumulative counters)."""
    from sqlalchemy import update

    from isp.radius.models import RadAcct

    with app.app_context():
        _db.session.execute(update(RadAcct.__table__).where(RadAcct.__table__.c.radacctid == radacctid).values(**columns))
        _db.session.commit()


def gigawords(words: int, octets: int) -> int:
    """The 64-bit counter FreeRADIUS's stock query stores: Gigawords << 32 | Octets."""
    return words << 32 | octets
