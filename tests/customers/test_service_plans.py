"""Service plans: validation, the fixed router-side name, the push to each router, the kind lock."""
from __future__ import annotations

from decimal import Decimal

import pytest

from isp.extensions import db
from isp.models import PeriodUnit, ServicePlan
from isp.services import service_plans
from isp.services.errors import ServiceError
from tests.customers.helpers import commands, settle_all

BASE = {"name": "Fiber 10", "kind": "pppoe", "price": "1,250.50", "period_unit": "month", "period_count": "1",
        "rate_limit": "5M/10M 10M/20M 4M/8M 16/16", "data_cap": "100G", "fup_rate_limit": "1M/2M", "shared_users": "2",
        "address_pool": "pool-home", "grace_days": "3", "active": True, "router_ids": []}


def test_create_cleans_every_field_and_prefixes_the_profile(app, db, make_router):
    router = make_router()
    plan = service_plans.create_plan({**BASE, "router_ids": [router.id]})
    db.session.commit()
    assert plan.profile_name == "isp-svc-fiber-10" and plan.fup_profile_name == "isp-svc-fiber-10-fup"
    assert (plan.price, plan.period_unit, plan.period_count) == (Decimal("1250.50"), PeriodUnit.month, 1)
    assert (plan.data_cap_bytes, plan.fup_rate_limit, plan.shared_users, plan.grace_days) == (100 * 1024 ** 3, "1M/2M", 2, 3)
    again = service_plans.create_plan({**BASE, "name": "Fiber-10!"})
    assert again.profile_name == "isp-svc-fiber-10-2"


@pytest.mark.parametrize("field,value,message", [
    ("name", "", "required"), ("kind", "dialup", "PPPoE, hotspot or static"), ("price", "12.345", "two decimals"),
    ("price", "-5", "negative"), ("period_unit", "year", "months or days"), ("period_count", "0", "from 1 to 24"),
    ("rate_limit", "fast", "not a RouterOS rate limit"), ("data_cap", "lots", "not a size"),
    ("fup_rate_limit", "", "speed after the data cap"), ("shared_users", "101", "from 1 to 100"),
    ("address_pool", "my pool", "letters, digits"), ("grace_days", "-1", "from 0 to 365"),
])
def test_bad_values_name_their_field(app, db, field, value, message):
    with pytest.raises(ServiceError) as err:
        service_plans.validate({**BASE, field: value}, None)
    assert err.value.field == field and message in err.value.message


def test_day_periods_allow_up_to_a_year(app, db):
    values = service_plans.validate({**BASE, "period_unit": "day", "period_count": "30"}, None)
    assert (values["period_unit"], values["period_count"]) == (PeriodUnit.day, 30)


def test_names_are_unique_ignoring_case(app, db):
    service_plans.create_plan(BASE)
    with pytest.raises(ServiceError, match="already exists") as err:
        service_plans.create_plan({**BASE, "name": "FIBER 10"})
    assert err.value.field == "name"


def test_create_and_edit_push_one_command_per_router(app, make_router, make_service_plan):
    r1, r2 = make_router(), make_router()
    plan = make_service_plan([r1.id, r2.id], rate_limit="2M/4M")
    pushed = commands(app, "plan.apply")
    assert sorted(c["router_id"] for c in pushed) == sorted([r1.id, r2.id])
    settle_all(app)
    with app.app_context():
        stored = db.session.get(ServicePlan, plan.id)
        service_plans.update_plan(stored, {**BASE, "name": plan.name, "rate_limit": "8M/16M", "data_cap": "",
                                           "router_ids": [r1.id, r2.id]})
        db.session.commit()
    fresh = [c for c in commands(app, "plan.apply") if c["state"] == "pending"]
    assert sorted(c["router_id"] for c in fresh) == sorted([r1.id, r2.id])
    assert all("8M/16M" in str(c["payload"]) for c in fresh)
    assert not [c for c in commands(app) if c["operation"] != "plan.apply"]  # one per router, none per user


def test_kind_is_locked_once_services_use_the_plan(app, staff, make_router, make_service_plan, make_customer, make_service):
    router = make_router()
    plan = make_service_plan([router.id], price="0")
    with app.app_context():
        stored = db.session.get(ServicePlan, plan.id)
        service_plans.validate({**BASE, "name": plan.name, "kind": "hotspot", "router_ids": [router.id]}, stored)
    make_service(make_customer(staff.id).id, plan.id, staff.id)
    with app.app_context():
        stored = db.session.get(ServicePlan, plan.id)
        with pytest.raises(ServiceError, match="cannot change") as err:
            service_plans.validate({**BASE, "name": plan.name, "kind": "hotspot", "router_ids": [router.id]}, stored)
        assert err.value.field == "kind"
        with pytest.raises(ServiceError, match="move them") as err:
            service_plans.validate({**BASE, "name": plan.name, "router_ids": []}, stored)
        assert err.value.field == "router_ids"
