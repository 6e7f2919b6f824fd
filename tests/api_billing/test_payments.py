"""/api/v1/payments: Idempotency-Key replays the same payment (one ledger entry); a reused reference is a 409."""
from __future__ import annotations

from sqlalchemy import func, select

from isp.extensions import db as _db
from isp.models import AuditEntry, Payment, Subscription, SubscriptionState
from tests.billing.conftest import balance, entries


def _pay(client, headers, key, **body):
    return client.post("/api/v1/payments", json=body, headers={**headers, **({"Idempotency-Key": key} if key else {})})


def test_a_replayed_idempotency_key_returns_the_same_payment_and_posts_once(app, client, bill, token):
    customer = bill.customer()
    headers = token(bill.staff.id, "read", "customers")
    body = {"customer_id": customer, "amount": "1500.00", "method": "mobile", "reference": "QX12AB34"}
    first = _pay(client, headers, "3f1c-pay-1", **body)
    assert first.status_code == 201, first.get_json()
    paid = first.get_json()
    assert paid["amount"] == "1500.00" and paid["number"].startswith("RCT-") and paid["reference"] == "QX12AB34"
    assert first.headers["Location"] == f"/api/v1/payments/{paid['id']}"
    assert client.get(first.headers["Location"], headers=headers).get_json() == paid
    again = _pay(client, headers, "3f1c-pay-1", **body)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == paid and again.headers["Location"] == first.headers["Location"]
    with app.app_context():
        assert entries(customer) == [("payment", "1500.00", "1500.00")]
        assert balance(customer) == "1500.00"
        assert _db.session.scalar(select(func.count()).select_from(Payment)) == 1
        entry = _db.session.scalar(select(AuditEntry).where(AuditEntry.action == "billing.payment"))
        assert entry.via == "api" and entry.actor_id == bill.staff.id
    listed = client.get(f"/api/v1/payments?customer_id={customer}", headers=headers).get_json()["items"]
    assert [p["id"] for p in listed] == [paid["id"]]
    assert client.get(f"/api/v1/payments/{paid['id']}", headers=headers).get_json() == paid


def test_the_same_key_with_another_body_is_refused(app, client, bill, token):
    customer = bill.customer()
    headers = token(bill.staff.id, "customers")
    assert _pay(client, headers, "k-1", customer_id=customer, amount="10.00", method="cash").status_code == 201
    response = _pay(client, headers, "k-1", customer_id=customer, amount="20.00", method="cash")
    assert response.status_code == 422 and "different request" in response.get_json()["detail"]
    with app.app_context():
        assert balance(customer) == "10.00"


def test_a_key_is_required(app, client, bill, token):
    customer = bill.customer()
    response = _pay(client, token(bill.staff.id, "customers"), None, customer_id=customer, amount="10.00", method="cash")
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert "Idempotency-Key" in response.get_json()["detail"]
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(Payment)) == 0


def test_a_duplicate_reference_under_another_key_is_a_409_and_pays_nothing(app, client, bill, token):
    customer = bill.customer()
    headers = token(bill.staff.id, "customers")
    first = _pay(client, headers, "a", customer_id=customer, amount="500.00", method="bank", reference="TRX-778")
    assert first.status_code == 201
    response = _pay(client, headers, "b", customer_id=customer, amount="500.00", method="bank", reference=" TRX-778 ")
    assert response.status_code == 409 and response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["title"] == "Conflict"
    assert problem["detail"] == (f"This bank transfer reference was already recorded on receipt {first.get_json()['number']} "
                                 f"for {first.get_json()['account_no']}.")
    with app.app_context():
        assert entries(customer) == [("payment", "500.00", "500.00")]
    # The failed request stored no key: the client may fix the reference and retry with the same key.
    retry = _pay(client, headers, "b", customer_id=customer, amount="500.00", method="bank", reference="TRX-779")
    assert retry.status_code == 201


def test_bad_payments_are_422_and_write_nothing(app, client, bill, token):
    customer = bill.customer()
    headers = token(bill.staff.id, "customers")
    for n, body in enumerate([{"customer_id": customer, "amount": "-5", "method": "cash"},
                              {"customer_id": customer, "amount": "abc", "method": "cash"},
                              {"customer_id": customer, "amount": "5.00", "method": "cheque"},
                              {"customer_id": customer, "amount": "5.00", "method": "mobile"}]):  # no reference
        response = _pay(client, headers, f"bad-{n}", **body)
        assert response.status_code == 422, (body, response.get_json())
        assert response.get_json()["errors"]
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(Payment)) == 0
        assert entries(customer) == []


def test_a_payment_brings_a_suspended_service_back(app, client, bill, token):
    plan = bill.plan("1000.00")
    customer = bill.customer()
    sub_id = bill.service(customer, plan, state="suspended")
    response = _pay(client, token(bill.staff.id, "customers"), "revive", customer_id=customer, amount=1000,
                    method="cash")
    assert response.status_code == 201 and response.get_json()["amount"] == "1000.00"
    with app.app_context():
        assert _db.session.get(Subscription, sub_id).state == SubscriptionState.active


def test_a_reseller_token_pays_only_for_its_own_customers(app, client, bill, token):
    agent, other = bill.agent(), bill.agent()
    theirs = bill.customer("Theirs", reseller_id=other.id)
    mine = bill.customer("Mine", reseller_id=agent.id)
    headers = token(agent.id, "read", "customers")
    response = _pay(client, headers, "x", customer_id=theirs, amount="100.00", method="cash")
    assert response.status_code == 404
    # The agent's wallet is empty: the service refuses before anything is written.
    response = _pay(client, headers, "y", customer_id=mine, amount="100.00", method="cash")
    assert response.status_code == 422 and "wallet" in response.get_json()["detail"]
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(Payment)) == 0
    staff = token(bill.staff.id, "customers")
    paid = _pay(client, staff, "z", customer_id=theirs, amount="100.00", method="cash").get_json()
    assert client.get(f"/api/v1/payments/{paid['id']}", headers=headers).status_code == 404
    assert client.get("/api/v1/payments", headers=headers).get_json()["items"] == []
