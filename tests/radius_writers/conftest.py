"""Radius-mode routers, plans and subscriptions made as rows; the radius tables emptied after each test."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import delete, select

from isp import crypto
from isp.extensions import db as _db
from isp.models import Customer, Router, RouterCommand, RouterMode, ServiceKind, ServicePlan, Subscription, SubscriptionState
from isp.models.base import utcnow
from isp.radius.models import Nas, RadAcct, RadCheck, RadGroupCheck, RadGroupReply, RadPostAuth, RadReply, RadUserGroup

RADIUS_TABLES = (RadCheck, RadReply, RadGroupCheck, RadGroupReply, RadUserGroup, RadAcct, RadPostAuth, Nas)


@pytest.fixture
def radius_db(app):
    """The radius bind's tables exist (created from the models if its migrations have not made them) and are
    emptied after the test."""
    with app.app_context():
        _db.create_all(bind_key="radius")
    yield
    with app.app_context():
        _db.session.remove()
        for model in RADIUS_TABLES:
            _db.session.execute(delete(model))
        _db.session.commit()


class World:
    """A radius-mode router, plans and subscriptions, made directly as rows (ids returned)."""

    def __init__(self, app, router_id: int | None = None):
        self.app, self.n, self.router_id = app, 0, router_id
        if router_id is not None:
            return
        with app.app_context():
            router = Router(name="nas-1", addresses_text="127.0.0.1", username="admin",
                            password_encrypted=crypto.encrypt("x"), mode=RouterMode.radius)
            _db.session.add(router)
            _db.session.commit()
            self.router_id = router.id

    def plan(self, kind: str = "pppoe", rate_limit: str = "2M/4M", **fields) -> int:
        """A service plan sold on the radius router."""
        self.n += 1
        with self.app.app_context():
            plan = ServicePlan(name=f"Plan {self.n}", kind=ServiceKind(kind), profile_name=f"isp-svc-plan-{self.n}",
                               price=Decimal("20.00"), rate_limit=rate_limit, **fields)
            plan.routers = [_db.session.get(Router, self.router_id)]
            _db.session.add(plan)
            _db.session.commit()
            return plan.id

    def sub(self, plan_id: int, username: str, state: str = "active", password: str = "s3cret-pw",
            paid_days: float | None = 10, **fields) -> int:
        """A customer with one subscription on the radius router."""
        self.n += 1
        with self.app.app_context():
            customer = Customer(account_no=f"ISP-{self.n:06d}", name=f"Customer {self.n}")
            _db.session.add(customer)
            _db.session.flush()
            now = utcnow().replace(microsecond=0)
            plan = _db.session.get(ServicePlan, plan_id)
            sub = Subscription(customer_id=customer.id, kind=plan.kind, username=username,
                               password_encrypted=crypto.encrypt(password), plan_id=plan_id, router_id=self.router_id,
                               state=SubscriptionState(state), period_start=now - timedelta(days=20),
                               paid_until=None if paid_days is None else now + timedelta(days=paid_days), **fields)
            _db.session.add(sub)
            _db.session.commit()
            return sub.id

    def online(self, username: str, ip: str = "10.9.0.7") -> None:
        """An open accounting session `s-<username>` (as FreeRADIUS writes on Accounting-Start)."""
        with self.app.app_context():
            _db.session.add(RadAcct(acctsessionid=f"s-{username}", acctuniqueid=f"u-{username}"[:32], username=username,
                                    nasipaddress="127.0.0.1", acctstarttime=utcnow().replace(tzinfo=None),
                                    framedipaddress=ip))
            _db.session.commit()


@pytest.fixture
def world(app, radius_db):
    """The radius world of one test."""
    return World(app)


def rows(model, name: str) -> set[tuple[str, str, str]]:
    """(attribute, op, value) of one user's or group's rows."""
    key = model.groupname if hasattr(model, "groupname") and model is not RadUserGroup else model.username
    return set(_db.session.execute(select(model.attribute, model.op, model.value).where(key == name)).tuples())


def groups_of(username: str) -> list[str]:
    """The user's groups, by priority."""
    return list(_db.session.scalars(select(RadUserGroup.groupname).where(RadUserGroup.username == username)
                                    .order_by(RadUserGroup.priority)))


def commands(operation: str | None = None) -> list[tuple[str, str, str]]:
    """(operation, username, priority) of the outbox rows, oldest first."""
    import json

    stmt = select(RouterCommand).order_by(RouterCommand.id)
    found = []
    for row in _db.session.scalars(stmt):
        if operation is None or row.operation == operation:
            found.append((row.operation, json.loads(row.payload_json).get("username"), row.priority.value))
    return found


def as_ns(**kw) -> SimpleNamespace:
    """A namespace (for readable assertions)."""
    return SimpleNamespace(**kw)
