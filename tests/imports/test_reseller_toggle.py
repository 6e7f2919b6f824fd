"""The admin-only switch that lets a reseller sign up customers and take payments (User.can_sell_services), audited."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from isp.extensions import db as _db
from isp.models import AuditEntry, User
from tests.conftest import TEST_PASSWORD, csrf_from


def _user(app, username):
    with app.app_context():
        return _db.session.scalar(select(User).where(User.username == username))


def _audit(app):
    with app.app_context():
        return [(a.action, a.detail) for a in _db.session.scalars(select(AuditEntry).where(AuditEntry.action == "reseller.can_sell_services")
                                                                 .order_by(AuditEntry.id))]


def test_an_admin_allows_a_reseller_at_creation_and_switches_it_off_later(app, client, auth):
    auth.login_as("admin")
    page = client.get("/resellers/new").get_data(as_text=True)
    assert "May sign up customers and take payments" in page
    created = client.post("/resellers/new", data={"csrf_token": csrf_from(page), "username": "shop-one", "password": TEST_PASSWORD,
                                                   "confirm": TEST_PASSWORD, "can_sell_services": "y"})
    assert created.status_code == 302
    reseller = _user(app, "shop-one")
    assert reseller.can_sell_services is True and _audit(app) == [("reseller.can_sell_services", "on")]
    detail = client.get(f"/resellers/{reseller.id}").get_data(as_text=True)
    assert "signs up customers and takes payments" in detail and 'data-test="save-selling"' in detail
    off = client.post(f"/resellers/{reseller.id}/selling", data={"csrf_token": csrf_from(detail)}, follow_redirects=True)
    assert "No longer signs up customers or takes payments." in off.get_data(as_text=True)
    assert _user(app, "shop-one").can_sell_services is False
    assert _audit(app) == [("reseller.can_sell_services", "on"), ("reseller.can_sell_services", "off")]
    on = client.post(f"/resellers/{reseller.id}/selling", data={"csrf_token": csrf_from(detail), "can_sell_services": "y"})
    assert on.status_code == 302 and _user(app, "shop-one").can_sell_services is True


def test_a_reseller_is_created_without_it_unless_ticked(app, client, auth):
    auth.login_as("admin")
    page = client.get("/resellers/new").get_data(as_text=True)
    client.post("/resellers/new", data={"csrf_token": csrf_from(page), "username": "shop-two", "password": TEST_PASSWORD,
                                        "confirm": TEST_PASSWORD})
    assert _user(app, "shop-two").can_sell_services is False and _audit(app) == []


@pytest.mark.parametrize("role", ["operator", "reseller"])
def test_only_an_admin_can_flip_it(app, client, auth, make_user, role):
    target = make_user("reseller")
    me = auth.login_as(role)
    for user_id in {target.id, me.id}:
        response = client.post(f"/resellers/{user_id}/selling", data={"can_sell_services": "y"},
                               headers={"X-CSRFToken": auth.token(), "HX-Request": "true"})
        assert response.status_code == 403
    assert not _user(app, target.username).can_sell_services and not _user(app, me.username).can_sell_services
    assert _audit(app) == []


def test_a_reseller_sees_whether_they_may_sell_but_gets_no_switch(app, client, auth):
    me = auth.login_as("reseller")
    page = client.get("/resellers/me").get_data(as_text=True)
    assert "does not sign up customers" in page and "save-selling" not in page
    with app.app_context():
        _db.session.get(User, me.id).can_sell_services = True
        _db.session.commit()
    assert "signs up customers and takes payments" in client.get("/resellers/me").get_data(as_text=True)
