"""Factories for plans, resellers and batches (services called as the app would)."""
from types import SimpleNamespace

import pytest

from isp.extensions import db as _db


@pytest.fixture
def make_plan(app):
    """Factory: make_plan(router_ids=[...], **fields) -> id, name, profile."""
    from isp.services import plans

    counter = {"n": 0}

    def factory(router_ids=(), **fields):
        counter["n"] += 1
        data = {"name": f"Plan {counter['n']}", "price": "10.00", "reseller_price": "8.00", "validity": "1d",
                "time_quota": "", "data_quota": "", "rate_limit": "2M/4M", "shared_users": 1, "active": True,
                "router_ids": list(router_ids)}
        data.update(fields)
        with app.app_context():
            plan = plans.create_plan(data)
            _db.session.commit()
            return SimpleNamespace(id=plan.id, name=plan.name, profile=plan.profile_name)

    return factory


@pytest.fixture
def generate(app):
    """generate(user_id, plan_id, count, **kw) -> batch id (committed), as the web view does it."""
    from isp.models import User
    from isp.services import vouchers

    def factory(user_id, plan_id, count, **kw):
        with app.app_context():
            batch = vouchers.generate(_db.session.get(User, user_id), plan_id, count, **kw)
            _db.session.commit()
            return batch.id

    return factory


@pytest.fixture
def fund(app):
    """fund(user_id, amount): top up a reseller's ledger account."""
    from isp.models import EntryKind, User
    from isp.services import ledger

    def factory(user_id, amount):
        with app.app_context():
            ledger.post(ledger.account_for(_db.session.get(User, user_id)), EntryKind.topup, amount, "test top-up")
            _db.session.commit()

    return factory


@pytest.fixture
def allow(app):
    """allow(user_id, plan_id): let a reseller sell a plan."""
    from isp.models import reseller_plans

    def factory(user_id, plan_id):
        with app.app_context():
            _db.session.execute(reseller_plans.insert().values(user_id=user_id, plan_id=plan_id))
            _db.session.commit()

    return factory
