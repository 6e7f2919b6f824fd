"""Plans (staff write with the routers scope; a reseller reads what it may sell) and routers (staff, no router I/O)."""
from __future__ import annotations

import json

from sqlalchemy import select

from isp.extensions import db as _db
from tests.api.conftest import assert_problem

NEW_PLAN = {"name": "Weekend", "price": "5.00", "validity": "2d", "data_quota": "2G", "rate_limit": "2M/4M"}


def test_staff_list_every_plan_reseller_only_its_own(api_as, shop):
    staff = api_as("operator", "read").get("/plans").get_json()["items"]
    assert {p["id"] for p in staff} == {shop.plan.id, shop.other_plan.id}
    reseller = api_as("reseller", "read", user=shop.a)
    assert [p["id"] for p in reseller.get("/plans").get_json()["items"]] == [shop.plan.id]
    assert_problem(reseller.get(f"/plans/{shop.other_plan.id}"), 404)
    assert reseller.get(f"/plans/{shop.plan.id}").get_json()["reseller_price"] == "8.00"


def test_create_plan_with_routers_scope(app, api_as, shop):
    from isp.models import AuditEntry, HotspotPlan, RouterCommand

    api = api_as("operator", "routers")
    response = api.post("/plans", json={**NEW_PLAN, "router_ids": [shop.router.id]})
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["validity_seconds"] == 2 * 86400 and body["data_quota_bytes"] == 2 * 1024 ** 3
    assert body["reseller_price"] == "5.00" and body["router_ids"] == [shop.router.id]
    with app.app_context():
        plan = _db.session.get(HotspotPlan, body["id"])
        assert plan.name == "Weekend"
        assert _db.session.scalar(select(RouterCommand).where(RouterCommand.idempotency_key ==
                                                              f"hotspot_profile:{plan.profile_name}")) is not None
        entry = _db.session.scalar(select(AuditEntry).where(AuditEntry.action == "plan.create",
                                                            AuditEntry.target_id == plan.id))
        assert entry.via == "api" and entry.actor_id == api.user.id


def test_plan_writes_need_scope_and_staff(api_as, shop):
    assert_problem(api_as("admin", "read", "vouchers").post("/plans", json=NEW_PLAN), 403)
    assert_problem(api_as("reseller", "read", "vouchers", "customers", user=shop.a).post("/plans", json=NEW_PLAN), 403)
    assert_problem(api_as("reseller", "vouchers", user=shop.a).patch(f"/plans/{shop.plan.id}", json={"price": "1"}), 403)


def test_plan_service_errors_are_field_problems(api_as, shop):
    api = api_as("admin", "admin")
    body = assert_problem(api.post("/plans", json={**NEW_PLAN, "validity": "soon"}), 422)
    assert list(body["errors"]) == ["validity"]
    body = assert_problem(api.post("/plans", json={**NEW_PLAN, "name": shop.plan.name}), 422)
    assert list(body["errors"]) == ["name"]
    body = assert_problem(api.post("/plans", json={**NEW_PLAN, "reseller_price": "9.00"}), 422)
    assert list(body["errors"]) == ["reseller_price"]


def test_patch_changes_only_what_it_names(api_as, shop):
    api = api_as("admin", "routers", "read")
    before = api.get(f"/plans/{shop.plan.id}").get_json()
    response = api.patch(f"/plans/{shop.plan.id}", json={"price": "12.50"})
    assert response.status_code == 200, response.get_data(as_text=True)
    after = response.get_json()
    assert after["price"] == "12.50"
    for key in ("name", "reseller_price", "validity_seconds", "rate_limit", "router_ids", "shared_users", "active"):
        assert after[key] == before[key], key


def test_routers_list_get_and_status_from_redis(app, api_as, shop):
    from isp.routeros.status import store_metrics

    api = api_as("operator", "read")
    items = api.get("/routers").get_json()["items"]
    assert [r["id"] for r in items] == [shop.router.id]
    router = items[0]
    assert router["health"]["label"] == "Never contacted" and router["health"]["circuit"] == "closed"
    assert "password" not in json.dumps(router) and "secret" not in json.dumps(router)
    assert api.get(f"/routers/{shop.router.id}/status").get_json()["metrics"] is None
    with app.app_context():
        store_metrics(shop.router.id, {"cpu_load": 7})
    status = api.get(f"/routers/{shop.router.id}/status").get_json()
    assert status["metrics"]["cpu_load"] == 7
    assert_problem(api.get("/routers/999999"), 404)
    assert api.get("/routers?enabled=false").get_json()["items"] == []
