"""Fixtures of the customer tests: service plans, customers, services and a reseller allowed to sell."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from isp.extensions import db as _db


@pytest.fixture
def make_service_plan(app):
    """Factory: make_service_plan(router_ids, **fields) -> id, name, profile."""
    from isp.services import service_plans

    counter = {"n": 0}

    def factory(router_ids=(), **fields):
        counter["n"] += 1
        data = {"name": f"Home {counter['n']}", "kind": "pppoe", "price": "25.00", "period_unit": "month",
                "period_count": "1", "rate_limit": "5M/10M", "data_cap": "", "fup_rate_limit": "", "shared_users": "1",
                "address_pool": "", "grace_days": "", "active": True, "router_ids": list(router_ids)}
        data.update(fields)
        with app.app_context():
            plan = service_plans.create_plan(data)
            _db.session.commit()
            return SimpleNamespace(id=plan.id, name=plan.name, profile=plan.profile_name)

    return factory


@pytest.fixture
def make_customer(app):
    """Factory: make_customer(actor_id, **fields) -> id, account_no (signed up through the service)."""
    from isp.models import User
    from isp.services import customers

    counter = {"n": 0}

    def factory(actor_id, **fields):
        counter["n"] += 1
        data = {"name": f"Customer {counter['n']}", "phone": f"+2547000{counter['n']:05d}"}
        data.update(fields)
        with app.app_context():
            customer = customers.create(data, _db.session.get(User, actor_id))
            _db.session.commit()
            return SimpleNamespace(id=customer.id, account_no=customer.account_no)

    return factory


@pytest.fixture
def make_service(app):
    """Factory: make_service(customer_id, plan_id, actor_id, **fields) -> id, username."""
    from isp.models import Customer, User
    from isp.services import subscriptions

    counter = {"n": 0}

    def factory(customer_id, plan_id, actor_id, **fields):
        counter["n"] += 1
        data = {"plan_id": plan_id, "username": f"user{counter['n']}", "password": "", "auto_renew": True}
        data.update(fields)
        with app.app_context():
            sub = subscriptions.create(_db.session.get(Customer, customer_id), data, _db.session.get(User, actor_id))
            _db.session.commit()
            return SimpleNamespace(id=sub.id, username=sub.username)

    return factory


@pytest.fixture
def make_seller(app, make_user):
    """Factory: a reseller allowed to sell services (can_sell_services) -> id, username."""
    from isp.models import User

    def factory(**kw):
        user = make_user("reseller", **kw)
        with app.app_context():
            _db.session.get(User, user.id).can_sell_services = True
            _db.session.commit()
        return user

    return factory


@pytest.fixture
def staff(make_user):
    """An operator account."""
    return make_user("operator")
