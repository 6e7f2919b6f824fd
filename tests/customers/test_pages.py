"""The customer pages as an operator uses them: sign-up, the customer page, services, plans, the password button."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from isp.extensions import db
from isp.models import Customer, CustomerEvent, ServicePlan, Subscription, UsageDaily
from isp.models.base import utcnow
from tests.conftest import TEST_PASSWORD, csrf_from
from tests.customers.helpers import commands


def _post(client, url: str, data: dict, **headers):
    token = csrf_from(client.get("/customers/").get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token}, headers=headers)


def test_sign_up_through_the_form(app, client, auth, staff):
    auth.login(staff.username)
    assert "Sign up" in client.get("/customers/new").get_data(as_text=True)
    response = _post(client, "/customers/new", {"name": "Jane Doe", "phone": "+254 711 000 111", "email": "jane@x.org",
                                                "tags": "vip", "reseller_id": "0"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "ISP-000001" in page and "Jane Doe" in page and "+254711000111" in page
    assert "signed up" in page  # the timeline's first line


def test_form_refusals_are_shown_on_their_field(app, client, auth, staff):
    auth.login(staff.username)
    response = _post(client, "/customers/new", {"name": "", "phone": "12"})
    assert response.status_code == 422 and "Name is required." in response.get_data(as_text=True)
    response = _post(client, "/customers/new", {"name": "X", "phone": "12", "email": "nope"})
    text = response.get_data(as_text=True)
    assert response.status_code == 422 and "7 to 15 digits" in text
    with app.app_context():
        assert db.session.scalar(select(Customer.id)) is None


def test_edit_records_the_change_on_the_timeline(app, client, auth, staff, make_customer):
    c = make_customer(staff.id, name="Jane", phone="0711000111")
    auth.login(staff.username)
    form = client.get(f"/customers/{c.id}/edit").get_data(as_text=True)
    assert 'value="0711000111"' in form
    response = _post(client, f"/customers/{c.id}/edit", {"name": "Jane", "phone": "0799000111", "reseller_id": "0"})
    assert response.status_code == 302
    page = client.get(f"/customers/{c.id}").get_data(as_text=True)
    assert "phone: 0711000111 → 0799000111" in page and staff.username in page


def test_note_by_htmx_refreshes_the_timeline(app, client, auth, staff, make_customer):
    c = make_customer(staff.id)
    auth.login(staff.username)
    response = _post(client, f"/customers/{c.id}/notes", {"text": "Router swapped"}, **{"HX-Request": "true"})
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in text and 'id="timeline"' in text and "Router swapped" in text
    empty = _post(client, f"/customers/{c.id}/notes", {"text": " "}, **{"HX-Request": "true"})
    assert empty.status_code == 422 and "The note is required." in empty.get_data(as_text=True)


def test_customer_page_shows_services_money_and_usage(app, client, auth, staff, make_router, make_service_plan,
                                                      make_customer, make_service):
    router = make_router()
    plan = make_service_plan([router.id], price="0", name="Gold")
    c = make_customer(staff.id, name="Jane")
    sub = make_service(c.id, plan.id, staff.id, username="jane-home", password="hidden-pw-1")
    with app.app_context():
        from isp.services import sessions

        today = sessions.operator_day(utcnow())
        db.session.add_all([UsageDaily(subscription_id=sub.id, day=today, bytes_in=1024 ** 2, bytes_out=3 * 1024 ** 2),
                            UsageDaily(subscription_id=sub.id, day=today - timedelta(days=3), bytes_in=0, bytes_out=1024 ** 2)])
        db.session.commit()
    auth.login(staff.username)
    page = client.get(f"/customers/{c.id}").get_data(as_text=True)
    assert "jane-home" in page and "Gold" in page and router.name in page
    assert 'data-state="active"' in page and 'data-online="no"' in page
    assert "hidden-pw-1" not in page and "Show password" in page
    assert page.count("<title>") >= 31 and "1 MiB up" in page and "3 MiB down" in page and "5 MiB in all" in page
    live = client.get(f"/customers/{c.id}/live", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert live.lstrip().startswith('<div id="live"') and "jane-home" in live
    assert client.get(f"/customers/{c.id}/live").status_code == 302  # a person opening it gets the page


def test_show_password_is_a_post_for_staff(app, client, auth, staff, make_router, make_service_plan, make_customer,
                                           make_service):
    router = make_router()
    plan = make_service_plan([router.id], price="0")
    c = make_customer(staff.id)
    sub = make_service(c.id, plan.id, staff.id, password="hidden-pw-2")
    auth.login(staff.username)
    assert client.get(f"/customers/services/{sub.id}/password").status_code == 405
    shown = _post(client, f"/customers/services/{sub.id}/password", {}, **{"HX-Request": "true"})
    assert shown.status_code == 200 and "hidden-pw-2" in shown.get_data(as_text=True)
    assert "no-store" in shown.headers["Cache-Control"]


def test_add_service_through_the_form_with_clear_errors(app, client, auth, staff, make_router, make_service_plan,
                                                         make_customer, make_service):
    r1, r2 = make_router(), make_router()
    plan = make_service_plan([r1.id, r2.id], price="0", name="Fiber")
    c = make_customer(staff.id)
    make_service(c.id, plan.id, staff.id, username="taken", router_id=r1.id)
    auth.login(staff.username)
    fields = client.get(f"/customers/{c.id}/services/new?plan_id={plan.id}", headers={"HX-Request": "true"})
    assert 'id="plan-fields"' in fields.get_data(as_text=True) and r2.name in fields.get_data(as_text=True)
    url = f"/customers/{c.id}/services/new"
    refused = _post(client, url, {"plan_id": plan.id, "router_id": r1.id, "username": "taken"})
    assert refused.status_code == 422 and "already used for a PPPoE service by customer" in refused.get_data(as_text=True)
    refused = _post(client, url, {"plan_id": plan.id, "router_id": r1.id, "username": "ok1", "static_ip": "1.2.3"})
    assert refused.status_code == 422 and "not an IPv4 address" in refused.get_data(as_text=True)
    refused = _post(client, url, {"plan_id": plan.id, "router_id": r1.id, "username": "ok1", "caller_id": "xx"})
    assert refused.status_code == 422 and "not a MAC address" in refused.get_data(as_text=True)
    added = _post(client, url, {"plan_id": plan.id, "router_id": r2.id, "username": "ok1", "auto_renew": "y"})
    assert added.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Subscription.router_id).where(Subscription.username == "ok1")) == r2.id


def test_router_move_through_the_edit_form(app, client, auth, staff, make_router, make_service_plan, make_customer,
                                          make_service):
    r1, r2 = make_router(), make_router()
    plan = make_service_plan([r1.id, r2.id], price="0")
    c = make_customer(staff.id)
    sub = make_service(c.id, plan.id, staff.id, username="mover", router_id=r1.id)
    auth.login(staff.username)
    form = client.get(f"/customers/services/{sub.id}/edit").get_data(as_text=True)
    assert 'value="mover"' in form and "password" in form.lower()
    response = _post(client, f"/customers/services/{sub.id}/edit", {"router_id": r2.id, "username": "mover", "auto_renew": "y"})
    assert response.status_code == 302
    latest = {c["router_id"]: c["payload"]["state"] for c in commands(app, "service.apply")}
    assert latest == {r1.id: "absent", r2.id: "served"}
    page = client.get(f"/customers/{c.id}").get_data(as_text=True)
    assert f"router: {r1.name} → {r2.name}" in page


def test_state_buttons_and_kick(app, client, auth, staff, make_router, make_service_plan, make_customer, make_service):
    router = make_router()
    plan = make_service_plan([router.id], price="0")
    c = make_customer(staff.id)
    sub = make_service(c.id, plan.id, staff.id, username="btn")
    auth.login(staff.username)
    no_reason = _post(client, f"/customers/services/{sub.id}/state", {"action": "suspend", "reason": ""})
    assert no_reason.status_code == 302
    assert "A reason is required." in client.get(f"/customers/{c.id}").get_data(as_text=True)
    _post(client, f"/customers/services/{sub.id}/state", {"action": "suspend", "reason": "paused by request"})
    with app.app_context():
        assert db.session.get(Subscription, sub.id).state.value == "suspended"
    _post(client, f"/customers/services/{sub.id}/kick", {})
    assert any(c["key"] == "kick:pppoe:btn" for c in commands(app))
    page = client.get(f"/customers/{c.id}").get_data(as_text=True)
    assert "paused by request" in page and "Sessions of" in page


def test_services_list_filters_and_live_state(app, client, auth, staff, make_router, make_service_plan, make_customer,
                                              make_service):
    router = make_router()
    plan = make_service_plan([router.id], price="0")
    static = make_service_plan([router.id], price="0", kind="static")
    c = make_customer(staff.id)
    make_service(c.id, plan.id, staff.id, username="alpha")
    make_service(c.id, static.id, staff.id, username="beta", static_ip="10.5.0.9")
    auth.login(staff.username)
    page = client.get("/customers/services").get_data(as_text=True)
    assert "alpha" in page and "beta" in page and "10.5.0.9" in page
    assert "beta" not in client.get("/customers/services?q=al").get_data(as_text=True)
    assert "alpha" not in client.get("/customers/services?kind=static").get_data(as_text=True)
    assert "No service matches" in client.get("/customers/services?state=grace").get_data(as_text=True)


def test_plan_pages_create_and_edit(app, client, auth, staff, make_router):
    r1, r2 = make_router(), make_router()
    auth.login(staff.username)
    assert client.get("/customers/plans/new").status_code == 200
    data = {"name": "Home 5", "kind": "pppoe", "price": "20", "period_count": "1", "period_unit": "month",
            "rate_limit": "bad", "shared_users": "1", "router_ids": [r1.id, r2.id], "active": "y"}
    refused = _post(client, "/customers/plans/new", data)
    assert refused.status_code == 422 and "not a RouterOS rate limit" in refused.get_data(as_text=True)
    assert _post(client, "/customers/plans/new", {**data, "rate_limit": "5M/10M"}).status_code == 302
    with app.app_context():
        plan_id = db.session.scalar(select(ServicePlan.id))
    listing = client.get("/customers/plans").get_data(as_text=True)
    assert "Home 5" in listing and "isp-svc-home-5" in listing
    assert _post(client, f"/customers/plans/{plan_id}/edit", {**data, "rate_limit": "6M/12M"}).status_code == 302
    pushes = [c for c in commands(app, "plan.apply") if c["state"] == "pending"]
    assert sorted(c["router_id"] for c in pushes) == sorted([r1.id, r2.id]) and "6M/12M" in str(pushes)


def test_timeline_names_the_actor(app, client, auth, staff, make_customer):
    c = make_customer(staff.id)
    with app.app_context():
        db.session.add(CustomerEvent(customer_id=c.id, kind="note", summary="by the system"))
        db.session.commit()
    auth.login(staff.username)
    page = client.get(f"/customers/{c.id}").get_data(as_text=True)
    assert "System" in page and staff.username in page


def test_money_corrections_are_offered_to_staff_only(app, client, auth, staff, make_customer, make_seller):
    customer = make_customer(staff.id)
    auth.login(staff.username)
    page = client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert f'href="/billing/customers/{customer.id}/adjust"' in page and f'href="/billing/customers/{customer.id}/refund"' in page
    seller = make_seller()
    own = make_customer(seller.id)
    reseller = app.test_client()
    token = csrf_from(reseller.get("/auth/login").get_data(as_text=True))
    reseller.post("/auth/login", data={"username": seller.username, "password": TEST_PASSWORD, "csrf_token": token})
    page = reseller.get(f"/customers/{own.id}").get_data(as_text=True)
    assert "Take payment" in page and "/adjust" not in page and "/refund" not in page
