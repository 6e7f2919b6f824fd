"""/api/v1/subscriptions: lists and filters, add, change plan, and suspend/reactivate queued for the router as the web does."""
from __future__ import annotations

from sqlalchemy import select

from isp.extensions import db as _db
from isp.models import AuditEntry, Subscription, SubscriptionState
from tests.conftest import csrf_from
from tests.customers.helpers import commands, settle_all


def test_list_get_and_filters(client, bill, token):
    plan, other_plan = bill.plan(), bill.plan()
    alice, bob = bill.customer("Alice"), bill.customer("Bob")
    a1 = bill.service(alice, plan)
    a2 = bill.service(alice, other_plan, state="suspended")
    b1 = bill.service(bob, plan, state="grace")
    headers = token(bill.staff.id)
    ids = lambda query: [s["id"] for s in client.get(f"/api/v1/subscriptions{query}", headers=headers).get_json()["items"]]  # noqa: E731
    assert ids("") == [b1, a2, a1]
    assert ids(f"?customer_id={alice}") == [a2, a1]
    assert ids("?state=suspended") == [a2]
    assert ids(f"?plan_id={plan}") == [b1, a1]
    assert ids(f"?router_id={bill.router_id}&kind=pppoe") == [b1, a2, a1]
    one = client.get(f"/api/v1/subscriptions/{a1}", headers=headers).get_json()
    assert one["customer_id"] == alice and one["state"] == "active" and one["router_id"] == bill.router_id
    assert "password" not in one and "password_encrypted" not in one
    bad = client.get("/api/v1/subscriptions?state=sleeping", headers=headers)
    assert bad.status_code == 422 and "state" in bad.get_json()["errors"]


def test_suspend_via_the_api_queues_the_router_change_like_the_web(app, client, auth, bill, token):
    plan = bill.plan()
    customer = bill.customer()
    by_web, by_api = bill.service(customer, plan), bill.service(customer, plan)
    settle_all(app)
    auth.login(bill.staff.username)
    page = client.get(f"/customers/{customer}").get_data(as_text=True)
    client.post(f"/customers/services/{by_web}/state",
                data={"action": "suspend", "reason": "asked to pause", "csrf_token": csrf_from(page)})
    response = client.post(f"/api/v1/subscriptions/{by_api}/suspend", json={"reason": "asked to pause"},
                           headers=token(bill.staff.id, "customers"))
    assert response.status_code == 200 and response.get_json()["state"] == "suspended"
    queued = [c for c in commands(app) if c["state"] == "pending"]
    with app.app_context():
        names = {s.id: s.username for s in _db.session.scalars(select(Subscription))}
        assert {s.state for s in _db.session.scalars(select(Subscription))} == {SubscriptionState.suspended}
        audits = _db.session.scalars(select(AuditEntry).where(AuditEntry.action == "subscription.suspend")
                                     .order_by(AuditEntry.id)).all()
        assert [(a.via, a.target_id) for a in audits] == [("web", by_web), ("api", by_api)]
    web = [c for c in queued if names[by_web] in c["key"]]
    api = [c for c in queued if names[by_api] in c["key"]]
    assert web and api
    strip = lambda cmds: [(c["operation"], c["key"].replace(names[by_web], "U").replace(names[by_api], "U"),  # noqa: E731
                           c["payload"].get("state"), c["payload"].get("kick")) for c in cmds]
    assert strip(api) == strip(web)
    assert api[0]["payload"]["kick"] is True


def test_reactivate_and_refusals(app, client, bill, token):
    plan = bill.plan("1000.00")
    customer = bill.customer()
    sub = bill.service(customer, plan, state="suspended")
    headers = token(bill.staff.id, "customers")
    no_reason = client.post(f"/api/v1/subscriptions/{sub}/reactivate", json={}, headers=headers)
    assert no_reason.status_code == 422 and "reason" in no_reason.get_json()["errors"]
    unpaid = client.post(f"/api/v1/subscriptions/{sub}/reactivate", json={"reason": "called"}, headers=headers)
    assert unpaid.status_code == 422 and "Take a payment first" in unpaid.get_json()["detail"]
    bill.fund(customer, "1000.00")
    done = client.post(f"/api/v1/subscriptions/{sub}/reactivate", json={"reason": "paid at the desk"}, headers=headers)
    assert done.status_code == 200 and done.get_json()["state"] == "active"


def test_reseller_tokens_cannot_suspend_and_see_only_their_services(app, client, bill, token):
    agent = bill.agent()
    plan = bill.plan()
    mine = bill.service(bill.customer("Mine", reseller_id=agent.id), plan)
    theirs = bill.service(bill.customer("Other"), plan)
    headers = token(agent.id, "read", "customers")
    assert [s["id"] for s in client.get("/api/v1/subscriptions", headers=headers).get_json()["items"]] == [mine]
    assert client.get(f"/api/v1/subscriptions/{theirs}", headers=headers).status_code == 404
    assert client.post(f"/api/v1/subscriptions/{theirs}/suspend", json={"reason": "x"}, headers=headers).status_code == 404
    response = client.post(f"/api/v1/subscriptions/{mine}/suspend", json={"reason": "x"}, headers=headers)
    assert response.status_code == 403 and "staff" in response.get_json()["detail"]
    with app.app_context():
        assert _db.session.get(Subscription, mine).state == SubscriptionState.active


def test_add_a_service_and_change_its_plan(app, client, bill, token):
    home, fast = bill.plan("1000.00", name="Home"), bill.plan("2000.00", name="Fast")
    customer = bill.customer()
    bill.fund(customer, "5000.00")
    headers = token(bill.staff.id, "read", "customers")
    response = client.post("/api/v1/subscriptions", json={"customer_id": customer, "plan_id": home,
                                                          "username": "alice-home"}, headers=headers)
    assert response.status_code == 201, response.get_json()
    sub = response.get_json()
    assert sub["state"] == "active" and sub["plan_name"] == "Home" and sub["price"] == "1000.00"
    taken = client.post("/api/v1/subscriptions", json={"customer_id": customer, "plan_id": home,
                                                       "username": "alice-home"}, headers=headers)
    assert taken.status_code == 422 and "username" in taken.get_json()["errors"]
    quote = client.get(f"/api/v1/subscriptions/{sub['id']}/change-plan?plan_id={fast}", headers=headers).get_json()
    assert quote["charge"] != "0.00" and quote["plan_id"] == fast
    changed = client.post(f"/api/v1/subscriptions/{sub['id']}/change-plan", json={"plan_id": fast}, headers=headers)
    assert changed.status_code == 200, changed.get_json()
    body = changed.get_json()
    assert body["subscription"]["plan_name"] == "Fast"
    assert (body["credit"], body["charge"], body["balance_after"]) == (quote["credit"], quote["charge"],
                                                                       quote["balance_after"])
    assert client.post(f"/api/v1/subscriptions/{sub['id']}/change-plan", json={"plan_id": fast},
                       headers=headers).status_code == 422  # already on it
    assert client.post(f"/api/v1/subscriptions/{sub['id']}/change-plan", json={"plan_id": 999999},
                       headers=headers).status_code == 422
