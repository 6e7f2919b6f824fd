"""XSS in every customer text field, and reseller isolation by URL guessing (404 and nothing changes)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from isp.extensions import db
from isp.models import AuditEntry, Customer, CustomerEvent, RouterCommand, Subscription, User
from isp.services import customers
from isp.services.errors import ServiceError
from tests.conftest import csrf_from

XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_script_in_every_text_field_is_shown_escaped(app, client, auth, staff, make_router, make_service_plan,
                                                     make_customer, make_service):
    router = make_router()
    plan = make_service_plan([router.id], price="0", name=f"Plan {XSS}")
    c = make_customer(staff.id, name=XSS, address=XSS, notes=XSS, location=XSS, national_id=XSS)
    make_service(c.id, plan.id, staff.id, username="xss-user")
    with app.app_context():
        customers.add_note(db.session.get(Customer, c.id), XSS, db.session.get(User, staff.id))
        db.session.commit()
    auth.login(staff.username)
    pages = {url: client.get(url).get_data(as_text=True) for url in
             ("/customers/", "/customers/?q=%3Cscript", f"/customers/{c.id}", "/customers/services", "/customers/plans",
              f"/customers/{c.id}/edit")}
    for url, page in pages.items():
        assert XSS not in page, url
        assert ESCAPED in page, url
    detail = pages[f"/customers/{c.id}"]
    assert detail.count(ESCAPED) >= 7  # title, heading, contact (name, address, location, id), notes, timeline note


@pytest.mark.parametrize("field", ["email", "tags", "phone", "phone2"])
def test_fields_with_a_shape_refuse_markup(app, staff, db, field):
    with pytest.raises(ServiceError) as err:
        customers.create({"name": "X", field: XSS}, db.session.get(User, staff.id))
    assert err.value.field == field


def test_service_username_refuses_markup(app, staff, make_router, make_service_plan, make_customer, make_service):
    router = make_router()
    plan = make_service_plan([router.id], price="0")
    c = make_customer(staff.id)
    with pytest.raises(ServiceError) as err:
        make_service(c.id, plan.id, staff.id, username=XSS)
    assert err.value.field == "username"


# -- reseller isolation -------------------------------------------------------------------------------------------

@pytest.fixture
def two_resellers(app, staff, make_seller, make_router, make_service_plan, make_customer, make_service):
    """Reseller A (logged in by the tests) and reseller B with a customer and a service; a house customer too."""
    router = make_router()
    plan = make_service_plan([router.id], price="0")
    a, b = make_seller(), make_seller()
    theirs = make_customer(b.id, name="Theirs")
    sub = make_service(theirs.id, plan.id, b.id, username="their-login")
    house = make_customer(staff.id, name="House")
    house_sub = make_service(house.id, plan.id, staff.id, username="house-login")
    mine = make_customer(a.id, name="Mine")
    return {"a": a, "b": b, "theirs": theirs, "sub": sub, "house": house, "house_sub": house_sub, "mine": mine,
            "plan": plan, "router": router}


def _snapshot(app) -> tuple:
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(CustomerEvent)),
                db.session.scalar(select(func.count()).select_from(RouterCommand)),
                db.session.scalar(select(func.count()).select_from(AuditEntry)),
                db.session.scalar(select(func.count()).select_from(Subscription)),
                tuple(db.session.execute(select(Customer.id, Customer.name, Customer.status)).tuples()),
                tuple(db.session.execute(select(Subscription.id, Subscription.username, Subscription.state,
                                                Subscription.router_id)).tuples()))


def test_reseller_cannot_reach_other_customers_by_url(app, client, auth, two_resellers):
    w = two_resellers
    auth.login(w["a"].username)
    token = csrf_from(client.get("/customers/").get_data(as_text=True))
    before = _snapshot(app)
    for target, sub in ((w["theirs"], w["sub"]), (w["house"], w["house_sub"])):
        cid, sid = target.id, sub.id
        for url in (f"/customers/{cid}", f"/customers/{cid}/edit", f"/customers/{cid}/live", f"/customers/{cid}/timeline",
                    f"/customers/{cid}/statement", f"/customers/{cid}/services/new", f"/customers/services/{sid}/edit"):
            assert client.get(url, headers={"HX-Request": "true"}).status_code == 404, url
        posts = {f"/customers/{cid}/edit": {"name": "Hijacked"}, f"/customers/{cid}/notes": {"text": "pwned"},
                 f"/customers/{cid}/services/new": {"plan_id": w["plan"].id, "username": "sneaky"},
                 f"/customers/services/{sid}/edit": {"username": "stolen", "password": "new-password-1"}}
        for url, data in posts.items():
            assert client.post(url, data={**data, "csrf_token": token}).status_code == 404, url
        # staff-only buttons: refused by role before anything is looked up
        for url in (f"/customers/{cid}/status", f"/customers/services/{sid}/state", f"/customers/services/{sid}/kick",
                    f"/customers/services/{sid}/password"):
            response = client.post(url, data={"csrf_token": token, "action": "terminate", "reason": "x", "status": "closed"},
                                   headers={"HX-Request": "true"})
            assert response.status_code == 403, url
    assert _snapshot(app) == before


def test_reseller_lists_show_only_their_own(app, client, auth, two_resellers):
    w = two_resellers
    auth.login(w["a"].username)
    listing = client.get("/customers/").get_data(as_text=True)
    assert "Mine" in listing and "Theirs" not in listing and "House" not in listing
    services = client.get("/customers/services").get_data(as_text=True)
    assert "their-login" not in services and "house-login" not in services
    assert "No customer matches" in client.get("/customers/?q=Theirs").get_data(as_text=True)
    assert client.get(f"/customers/{w['mine'].id}").status_code == 200
    assert client.get("/customers/plans", headers={"HX-Request": "true"}).status_code == 403


def test_reseller_signs_up_and_adds_services_for_their_own(app, client, auth, two_resellers):
    w = two_resellers
    auth.login(w["a"].username)
    token = csrf_from(client.get("/customers/").get_data(as_text=True))
    response = client.post("/customers/new", data={"name": "Fresh", "reseller_id": w["b"].id, "csrf_token": token})
    assert response.status_code == 302
    with app.app_context():
        fresh = db.session.scalar(select(Customer).where(Customer.name == "Fresh"))
        assert fresh.reseller_id == w["a"].id
    added = client.post(f"/customers/{fresh.id}/services/new",
                        data={"plan_id": w["plan"].id, "username": "fresh-login", "csrf_token": token})
    assert added.status_code == 302
    page = client.get(f"/customers/{fresh.id}").get_data(as_text=True)
    assert "fresh-login" in page and "Show password" not in page and "Kick" not in page


def test_reseller_without_permission_sees_nothing_and_cannot_sign_up(app, client, auth, make_user, two_resellers):
    plain = make_user("reseller")
    auth.login(plain.username)
    assert "Mine" not in client.get("/customers/").get_data(as_text=True)
    assert client.get("/customers/new", headers={"HX-Request": "true"}).status_code == 403
    assert client.get(f"/customers/{two_resellers['mine'].id}").status_code == 404
