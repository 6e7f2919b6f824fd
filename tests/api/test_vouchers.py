"""Vouchers and batches over the API: scoping like the web, actions, generation with idempotency keys."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from isp.extensions import db as _db
from tests.api.conftest import assert_problem


def _voucher_ids(app, batch_id: int) -> list[int]:
    from isp.models import Voucher

    with app.app_context():
        return list(_db.session.scalars(select(Voucher.id).where(Voucher.batch_id == batch_id).order_by(Voucher.id)))


def test_reseller_sees_only_its_own(app, api_as, shop):
    api = api_as("reseller", "read", user=shop.a)
    items = api.get("/vouchers").get_json()["items"]
    assert sorted(v["id"] for v in items) == _voucher_ids(app, shop.batch_a)
    assert [b["id"] for b in api.get("/batches").get_json()["items"]] == [shop.batch_a]
    # guessing the ids of another reseller's or staff's objects finds nothing
    for voucher_id in _voucher_ids(app, shop.batch_b) + _voucher_ids(app, shop.batch_staff):
        assert_problem(api.get(f"/vouchers/{voucher_id}"), 404)
    assert_problem(api.get(f"/batches/{shop.batch_b}"), 404)
    assert_problem(api.get(f"/batches/{shop.batch_staff}"), 404)
    # even when asking for them by filter
    assert api.get(f"/vouchers?batch_id={shop.batch_b}").get_json()["items"] == []
    # and a reseller_id filter is ignored for a reseller, as on the page: still only its own
    assert api.get(f"/vouchers?reseller_id={shop.b.id}").get_json()["items"] == items


def test_reseller_cannot_act_on_anothers_voucher(app, api_as, shop):
    api = api_as("reseller", "vouchers", user=shop.a)
    other = _voucher_ids(app, shop.batch_b)[0]
    assert_problem(api.post(f"/vouchers/{other}/disable"), 404)
    staff_api = api_as("admin", "read")
    assert staff_api.get(f"/vouchers/{other}").get_json()["state"] == "unused"


def test_staff_sees_everything_and_filters(app, api_as, shop):
    api = api_as("admin", "read")
    assert len(api.get("/vouchers").get_json()["items"]) == 9
    assert len(api.get(f"/vouchers?reseller_id={shop.b.id}").get_json()["items"]) == 2
    assert api.get("/vouchers?state=disabled").get_json()["items"] == []
    code = api.get(f"/vouchers/{_voucher_ids(app, shop.batch_a)[0]}").get_json()["code"]
    found = api.get(f"/vouchers?code={code[:5].lower()}").get_json()["items"]
    assert code in [v["code"] for v in found] and all(v["code"].startswith(code[:5]) for v in found)


def test_voucher_detail_has_history_and_print_link(app, api_as, shop):
    api = api_as("admin", "read")
    voucher_id = _voucher_ids(app, shop.batch_staff)[0]
    body = api.get(f"/vouchers/{voucher_id}").get_json()
    assert body["state"] == "unused" and body["batch_id"] == shop.batch_staff and body["price"] == "10.00"
    assert body["print_url"] == f"http://localhost/vouchers/{voucher_id}/print"
    batch = api.get(f"/batches/{shop.batch_staff}").get_json()
    assert batch["print_url"] == f"http://localhost/vouchers/batches/{shop.batch_staff}/print"
    assert batch["counts"] == {"unused": 4} and batch["progress"]["total"] == 4


def test_disable_then_enable(app, api_as, shop):
    api = api_as("reseller", "read", "vouchers", user=shop.a)
    voucher_id = _voucher_ids(app, shop.batch_a)[0]
    response = api.post(f"/vouchers/{voucher_id}/disable")
    assert response.status_code == 200 and response.get_json()["state"] == "disabled"
    body = assert_problem(api.post(f"/vouchers/{voucher_id}/disable"), 409)
    assert "disabled" in body["detail"]
    assert api.get(f"/vouchers/{voucher_id}").get_json()["history"][-1]["to_state"] == "disabled"
    assert api.post(f"/vouchers/{voucher_id}/enable").get_json()["state"] == "unused"


def _balance(app, user_id: int) -> Decimal:
    from isp.models import User
    from isp.services import ledger

    with app.app_context():
        return ledger.balance(ledger.account_for(_db.session.get(User, user_id)).id)


def _batch_count(app) -> int:
    from isp.models import VoucherBatch

    with app.app_context():
        return _db.session.scalar(select(func.count()).select_from(VoucherBatch))


def test_generate_is_202_and_charges_the_reseller(app, api_as, shop):
    api = api_as("reseller", "vouchers", user=shop.a)
    before = _balance(app, shop.a.id)
    response = api.post("/batches", json={"plan_id": shop.plan.id, "count": 5, "note": "kiosk"}, key="order-1")
    assert response.status_code == 202, response.get_data(as_text=True)
    body = response.get_json()
    assert body["count"] == 5 and body["reseller_id"] == shop.a.id and body["counts"] == {"unused": 5}
    assert response.headers["Location"] == f"/api/v1/batches/{body['id']}"
    assert _balance(app, shop.a.id) == before - Decimal("40.00")


def test_generate_replays_with_the_same_key(app, api_as, shop):
    from isp.models import AuditEntry

    api = api_as("reseller", "vouchers", user=shop.a)
    before, batches = _balance(app, shop.a.id), _batch_count(app)
    request = {"plan_id": shop.plan.id, "count": 2}
    first = api.post("/batches", json=request, key="order-2")
    again = api.post("/batches", json={"count": 2, "plan_id": shop.plan.id}, key="order-2")  # same body, other key order
    assert first.status_code == again.status_code == 202
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"] == f"/api/v1/batches/{first.get_json()['id']}"
    assert _batch_count(app) == batches + 1 and _balance(app, shop.a.id) == before - Decimal("16.00")
    with app.app_context():
        generated = _db.session.scalars(select(AuditEntry).where(AuditEntry.action == "vouchers.generate",
                                                                 AuditEntry.via == "api")).all()
        assert len(generated) == 1


def test_keys_differing_only_in_case_are_different_keys_on_every_database(app, api_as, shop):
    api = api_as("reseller", "vouchers", user=shop.a)
    batches = _batch_count(app)
    lower = api.post("/batches", json={"plan_id": shop.plan.id, "count": 2}, key="order-k")
    upper = api.post("/batches", json={"plan_id": shop.plan.id, "count": 3}, key="ORDER-K")
    assert lower.status_code == upper.status_code == 202 and "Idempotent-Replayed" not in upper.headers
    assert _batch_count(app) == batches + 2


def test_same_key_with_another_body_is_refused(app, api_as, shop):
    api = api_as("reseller", "vouchers", user=shop.a)
    assert api.post("/batches", json={"plan_id": shop.plan.id, "count": 2}, key="order-3").status_code == 202
    batches = _batch_count(app)
    body = assert_problem(api.post("/batches", json={"plan_id": shop.plan.id, "count": 3}, key="order-3"), 422)
    assert "Idempotency-Key" in body["errors"]
    assert _batch_count(app) == batches


def test_keys_are_per_token(app, api_as, shop):
    api_a = api_as("reseller", "vouchers", user=shop.a)
    api_b = api_as("reseller", "vouchers", user=shop.b)
    first = api_a.post("/batches", json={"plan_id": shop.plan.id, "count": 1}, key="same")
    second = api_b.post("/batches", json={"plan_id": shop.plan.id, "count": 1}, key="same")
    assert first.status_code == second.status_code == 202
    assert first.get_json()["id"] != second.get_json()["id"] and "Idempotent-Replayed" not in second.headers


def test_generate_requires_a_key(app, api_as, shop):
    api = api_as("admin", "vouchers")
    batches = _batch_count(app)
    body = assert_problem(api.post("/batches", json={"plan_id": shop.plan.id, "count": 2}), 400)
    assert "Idempotency-Key" in body["errors"]
    assert_problem(api.post("/batches", json={"plan_id": shop.plan.id, "count": 2}, key="é" * 3), 400)
    assert _batch_count(app) == batches


def test_a_failed_request_stores_no_key(app, api_as, shop):
    from isp.models.security import IdempotencyKey

    api = api_as("reseller", "vouchers", user=shop.a)
    before = _balance(app, shop.a.id)
    body = assert_problem(api.post("/batches", json={"plan_id": shop.plan.id, "count": 500}, key="big"), 422)
    assert body["detail"].startswith("Insufficient balance")
    assert _balance(app, shop.a.id) == before
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0
    # fixed and retried with the same key: it goes through
    assert api.post("/batches", json={"plan_id": shop.plan.id, "count": 5}, key="big").status_code == 202


def test_concurrent_twin_gets_409_and_writes_nothing(app, api_as, shop, monkeypatch):
    """The twin did not see the first's key (looked before it committed): the unique constraint refuses it."""
    from isp.api import idempotency

    api = api_as("reseller", "vouchers", user=shop.a)
    assert api.post("/batches", json={"plan_id": shop.plan.id, "count": 2}, key="twin").status_code == 202
    before, batches = _balance(app, shop.a.id), _batch_count(app)

    real_scalar = _db.session.scalar

    def blind(stmt, *args, **kwargs):  # the lookup races: it finds nothing
        if "idempotency_keys" in str(stmt):
            return None
        return real_scalar(stmt, *args, **kwargs)

    monkeypatch.setattr(idempotency.db.session, "scalar", blind)
    body = assert_problem(api.post("/batches", json={"plan_id": shop.plan.id, "count": 2}, key="twin"), 409)
    assert "retry" in body["detail"]
    monkeypatch.undo()
    assert _batch_count(app) == batches and _balance(app, shop.a.id) == before


def test_reseller_cannot_generate_a_plan_not_allowed(api_as, shop):
    api = api_as("reseller", "vouchers", user=shop.a)
    body = assert_problem(api.post("/batches", json={"plan_id": shop.other_plan.id, "count": 1}, key="nope"), 422)
    assert list(body["errors"]) == ["plan_id"]


def test_two_requests_racing_with_one_key_sell_once(app, api_as, shop, monkeypatch):
    """Real threads: the twin's insert of the key waits on the first's open transaction, then is refused with 409."""
    import threading
    import time

    from isp.services import vouchers

    real, inside = vouchers.generate, threading.Event()

    def slow(*args, **kwargs):  # the first holds its transaction (key row included) open while the twin arrives
        inside.set()
        time.sleep(1.0)
        return real(*args, **kwargs)

    monkeypatch.setattr(vouchers, "generate", slow)
    api = api_as("reseller", "vouchers", user=shop.a)
    before, batches = _balance(app, shop.a.id), _batch_count(app)
    results = {}

    def post(name):
        response = app.test_client().post("/api/v1/batches", json={"plan_id": shop.plan.id, "count": 3},
                                          headers={"Authorization": f"Bearer {api.raw}", "Idempotency-Key": "race"})
        results[name] = response.status_code

    first = threading.Thread(target=post, args=("first",))
    first.start()
    assert inside.wait(timeout=20)
    twin = threading.Thread(target=post, args=("twin",))
    twin.start()
    for thread in (first, twin):
        thread.join(timeout=30)
    assert results == {"first": 202, "twin": 409}
    assert _batch_count(app) == batches + 1 and _balance(app, shop.a.id) == before - Decimal("24.00")


def test_an_expired_key_can_be_used_again(app, api_as, shop):
    from datetime import timedelta

    from isp.models.base import utcnow
    from isp.models.security import IdempotencyKey

    api = api_as("reseller", "vouchers", user=shop.a)
    first = api.post("/batches", json={"plan_id": shop.plan.id, "count": 1}, key="daily")
    with app.app_context():
        _db.session.execute(IdempotencyKey.__table__.update().values(created_at=utcnow() - timedelta(hours=25)))
        _db.session.commit()
    again = api.post("/batches", json={"plan_id": shop.plan.id, "count": 1}, key="daily")
    assert again.status_code == 202 and "Idempotent-Replayed" not in again.headers
    assert again.get_json()["id"] != first.get_json()["id"]
