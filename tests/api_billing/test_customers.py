"""/api/v1/customers: a token reads customers as the web lists them; a reseller's token sees only its own."""
from __future__ import annotations

from sqlalchemy import func, select

from isp.extensions import db as _db
from isp.models import AuditEntry, Customer


def test_a_token_reads_customers_with_balances_and_filters(app, client, bill, token):
    plan = bill.plan(price="1000.00")
    alice = bill.customer("Alice Wanjiru")
    bob = bill.customer("Bob Otieno", phone="0711000002")
    bill.service(bob, plan)
    bill.fund(alice, "-250.00", kind="adjustment")
    headers = token(bill.staff.id, "read")
    response = client.get("/api/v1/customers", headers=headers)
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert [c["name"] for c in body["items"]] == ["Bob Otieno", "Alice Wanjiru"]  # newest first
    assert body["items"][1]["balance"] == "-250.00" and body["next_cursor"] is None
    assert [c["name"] for c in client.get("/api/v1/customers?in_debt=true", headers=headers).get_json()["items"]] == [
        "Alice Wanjiru"]
    assert [c["name"] for c in client.get(f"/api/v1/customers?plan_id={plan}", headers=headers).get_json()["items"]] == [
        "Bob Otieno"]
    assert [c["name"] for c in client.get("/api/v1/customers?q=ali", headers=headers).get_json()["items"]] == [
        "Alice Wanjiru"]
    one = client.get(f"/api/v1/customers/{alice}", headers=headers).get_json()
    assert one["name"] == "Alice Wanjiru" and one["status"] == "active" and one["account_no"].startswith("ISP")


def test_pages_follow_the_cursor(client, bill, token):
    for n in range(5):
        bill.customer(f"Customer {n}")
    headers = token(bill.staff.id)
    first = client.get("/api/v1/customers?limit=2", headers=headers)
    page = first.get_json()
    assert [c["name"] for c in page["items"]] == ["Customer 4", "Customer 3"] and 'rel="next"' in first.headers["Link"]
    names = [c["name"] for c in page["items"]]
    while page["next_cursor"]:
        page = client.get(f"/api/v1/customers?limit=2&cursor={page['next_cursor']}", headers=headers).get_json()
        names += [c["name"] for c in page["items"]]
    assert names == [f"Customer {n}" for n in range(4, -1, -1)]


def test_a_reseller_token_sees_only_its_own_customers(client, bill, token):
    mine_agent, other_agent = bill.agent(), bill.agent()
    mine = bill.customer("Mine Kamau", reseller_id=mine_agent.id)
    theirs = bill.customer("Theirs Achieng", reseller_id=other_agent.id)
    bill.customer("Operator's own")
    headers = token(mine_agent.id, "read", "customers")
    listed = client.get("/api/v1/customers", headers=headers).get_json()["items"]
    assert [c["id"] for c in listed] == [mine]
    # A filter naming another reseller does not widen the scope.
    assert [c["id"] for c in client.get(f"/api/v1/customers?reseller_id={other_agent.id}",
                                        headers=headers).get_json()["items"]] == [mine]
    response = client.get(f"/api/v1/customers/{theirs}", headers=headers)
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 404
    patched = client.patch(f"/api/v1/customers/{theirs}", json={"name": "Hijacked"}, headers=headers)
    assert patched.status_code == 404


def test_create_and_update_through_the_service(app, client, bill, token):
    headers = token(bill.staff.id, "read", "customers")
    response = client.post("/api/v1/customers", json={"name": "Carol Njeri", "phone": "+254 712 345 678",
                                                      "tags": ["VIP", "fiber"]}, headers=headers)
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["tags"] == ["vip", "fiber"] and created["balance"] == "0.00"
    response = client.patch(f"/api/v1/customers/{created['id']}", json={"email": "carol@example.com"}, headers=headers)
    assert response.status_code == 200 and response.get_json()["email"] == "carol@example.com"
    assert response.get_json()["name"] == "Carol Njeri"  # left out: kept
    bad = client.patch(f"/api/v1/customers/{created['id']}", json={"email": "not-an-email"}, headers=headers)
    assert bad.status_code == 422 and "email" in bad.get_json()["errors"]
    with app.app_context():
        actions = _db.session.scalars(select(AuditEntry.action).where(AuditEntry.via == "api")
                                      .order_by(AuditEntry.id)).all()
        assert actions == ["customer.create", "customer.update"]
        assert _db.session.get(Customer, created["id"]).email == "carol@example.com"


def test_writes_need_the_customers_scope_and_bad_input_is_a_422(app, client, bill, token):
    read_only = token(bill.staff.id, "read")
    response = client.post("/api/v1/customers", json={"name": "Dan"}, headers=read_only)
    assert response.status_code == 403 and "customers" in response.get_json()["detail"]
    writer = token(bill.staff.id, "customers")
    assert client.post("/api/v1/customers", json={}, headers=writer).status_code == 422
    assert client.post("/api/v1/customers", json={"name": "Dan", "phone": "call me"}, headers=writer).status_code == 422
    assert client.post("/api/v1/customers", json={"name": "Dan", "owner": 1}, headers=writer).status_code == 422
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(Customer)) == 0


def test_a_reseller_not_allowed_to_sell_gets_403_and_sees_nothing(client, bill, token):
    agent = bill.agent(can_sell=False)
    bill.customer("Someone", reseller_id=agent.id)
    headers = token(agent.id, "read", "customers")
    assert client.get("/api/v1/customers", headers=headers).get_json()["items"] == []
    response = client.post("/api/v1/customers", json={"name": "New"}, headers=headers)
    assert response.status_code == 403 and "may not sign up" in response.get_json()["detail"]
