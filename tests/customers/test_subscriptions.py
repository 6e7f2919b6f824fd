"""Subscriptions service: validation with clear messages, password handling, router moves, state buttons, kick."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from isp import crypto
from isp.extensions import db
from isp.models import AuditEntry, Customer, CustomerEvent, Subscription, SubscriptionState, User
from isp.services import subscriptions
from isp.services.errors import ServiceError
from tests.customers.helpers import commands, settle_all


@pytest.fixture
def world(app, staff, make_router, make_service_plan, make_customer):
    """Two routers, a free PPPoE plan and a static plan on both, a hotspot plan on the first, one customer."""
    r1, r2 = make_router(), make_router()
    return {"r1": r1, "r2": r2, "staff": staff, "customer": make_customer(staff.id),
            "pppoe": make_service_plan([r1.id, r2.id], price="0"),
            "static": make_service_plan([r1.id, r2.id], kind="static", price="0"),
            "hotspot": make_service_plan([r1.id], kind="hotspot", price="0"),
            "solo": make_service_plan([r2.id], price="0")}


def _create(app, world, **data):
    with app.app_context():
        sub = subscriptions.create(db.session.get(Customer, world["customer"].id), data,
                                   db.session.get(User, world["staff"].id))
        db.session.commit()
        return sub.id


def _refused(app, world, **data) -> ServiceError:
    with pytest.raises(ServiceError) as err:
        _create(app, world, **data)
    return err.value


def test_create_stores_encrypted_password_and_starts_the_service(app, world):
    sub_id = _create(app, world, plan_id=world["pppoe"].id, router_id=world["r1"].id, username="jane", password="s3cret-pw")
    with app.app_context():
        sub = db.session.get(Subscription, sub_id)
        assert sub.kind.value == "pppoe" and sub.router_id == world["r1"].id
        assert "s3cret-pw" not in sub.password_encrypted and crypto.decrypt(sub.password_encrypted) == "s3cret-pw"
        assert sub.state == SubscriptionState.active  # a free plan is paid at once by lifecycle.start
        summaries = db.session.scalars(select(CustomerEvent.summary).where(CustomerEvent.subscription_id == sub_id)).all()
        assert any("added on" in s for s in summaries)
        assert not any("s3cret" in s for s in summaries)


def test_blank_password_gets_a_strong_one(app, world):
    ids = [_create(app, world, plan_id=world["solo"].id, username=f"gen{n}") for n in range(2)]  # the plan's only router
    with app.app_context():
        subs = [db.session.get(Subscription, i) for i in ids]
        passwords = [crypto.decrypt(s.password_encrypted) for s in subs]
        assert {s.router_id for s in subs} == {world["r2"].id}
    assert all(len(p) == 12 and set(p) <= set(subscriptions.PASSWORD_ALPHABET) for p in passwords)
    assert passwords[0] != passwords[1]


def test_duplicate_username_is_refused_clearly_for_any_kind(app, world):
    _create(app, world, plan_id=world["pppoe"].id, router_id=world["r1"].id, username="jane")
    err = _refused(app, world, plan_id=world["pppoe"].id, router_id=world["r2"].id, username="jane")
    assert err.field == "username" and "already used" in err.message and world["customer"].account_no in err.message
    # nor may another kind: FreeRADIUS has one user namespace, a hotspot 'jane' would share the PPPoE one's rows
    err = _refused(app, world, plan_id=world["hotspot"].id, username="jane")
    assert err.field == "username" and "already used for a PPPoE service" in err.message


def test_hotspot_username_may_not_be_a_voucher_code(app, world, make_plan, make_user, generate):
    admin = make_user("admin")
    plan = make_plan([world["r1"].id])
    generate(admin.id, plan.id, 1)
    with app.app_context():
        from isp.models import Voucher

        code = db.session.scalar(select(Voucher.code))
    err = _refused(app, world, plan_id=world["hotspot"].id, username=code)
    assert err.field == "username" and "voucher code" in err.message


def test_plan_must_be_an_active_plan(app, world):
    for bad in ("abc", "", "99999", "-1"):
        assert _refused(app, world, plan_id=bad, username="p-x").field == "plan_id"


def test_router_must_be_one_of_the_plans(app, world):
    err = _refused(app, world, plan_id=world["hotspot"].id, router_id=world["r2"].id, username="x1")
    assert err.field == "router_id" and "not sold on that router" in err.message
    err = _refused(app, world, plan_id=world["pppoe"].id, username="x2")
    assert err.field == "router_id" and "several routers" in err.message


def test_static_ip_rules(app, world):
    err = _refused(app, world, plan_id=world["static"].id, router_id=world["r1"].id, username="s1")
    assert err.field == "static_ip" and "required" in err.message
    err = _refused(app, world, plan_id=world["static"].id, router_id=world["r1"].id, username="s1", static_ip="10.0.0.300")
    assert err.field == "static_ip" and "not an IPv4 address" in err.message
    err = _refused(app, world, plan_id=world["static"].id, router_id=world["r1"].id, username="s1", static_ip="10.0.0.255")
    assert err.field == "static_ip" and "broadcast" in err.message
    _create(app, world, plan_id=world["static"].id, router_id=world["r1"].id, username="s1", static_ip="10.0.0.5")
    err = _refused(app, world, plan_id=world["pppoe"].id, router_id=world["r1"].id, username="p1", static_ip="10.0.0.5")
    assert err.field == "static_ip" and "already used on" in err.message and "(s1)" in err.message
    assert world["customer"].account_no in err.message
    # the same address on another router is a different network
    _create(app, world, plan_id=world["static"].id, router_id=world["r2"].id, username="s2", static_ip="10.0.0.5")
    err = _refused(app, world, plan_id=world["hotspot"].id, username="h1", static_ip="10.0.0.9")
    assert err.field == "static_ip"


def test_bad_mac_and_grace_are_refused(app, world):
    err = _refused(app, world, plan_id=world["solo"].id, username="m1", caller_id="not-a-mac")
    assert err.field == "caller_id"
    err = _refused(app, world, plan_id=world["solo"].id, username="m1", grace_days="400")
    assert err.field == "grace_days"
    sub_id = _create(app, world, plan_id=world["solo"].id, username="m1", caller_id="aa-bb-cc-dd-ee-0f", grace_days="5")
    with app.app_context():
        sub = db.session.get(Subscription, sub_id)
        assert (sub.caller_id, sub.grace_days) == ("AA:BB:CC:DD:EE:0F", 5)


def test_router_move_removes_from_old_router_and_adds_on_new(app, world):
    sub_id = _create(app, world, plan_id=world["pppoe"].id, router_id=world["r1"].id, username="mover", static_ip="10.9.0.7")
    settle_all(app)
    with app.app_context():
        sub = db.session.get(Subscription, sub_id)
        lines = subscriptions.edit(sub, {"router_id": world["r2"].id}, db.session.get(User, world["staff"].id))
        db.session.commit()
    assert lines == [f"router: {world['r1'].name} → {world['r2'].name}"]
    queued = [c for c in commands(app) if c["state"] == "pending"]
    by_router = {c["router_id"]: c for c in queued}
    assert len(queued) == 2 and set(by_router) == {world["r1"].id, world["r2"].id}
    old, new = by_router[world["r1"].id], by_router[world["r2"].id]
    assert old["payload"]["state"] == "absent"
    assert any(op == "ppp_secret.remove" and args["name"] == "mover" for op, args in old["payload"]["steps"])
    ensured = [s[1]["attrs"] for s in new["payload"]["steps"] if s[0] == "ppp_secret.ensure"]
    assert ensured and ensured[0]["name"] == "mover" and ensured[0]["remote-address"] == "10.9.0.7"


def test_username_change_removes_the_old_login(app, world):
    sub_id = _create(app, world, plan_id=world["solo"].id, username="old-name")
    settle_all(app)
    with app.app_context():
        subscriptions.edit(db.session.get(Subscription, sub_id), {"username": "new-name"},
                           db.session.get(User, world["staff"].id))
        db.session.commit()
    keys = {c["key"]: c["payload"]["state"] for c in commands(app) if c["state"] == "pending"}
    assert keys == {"service:pppoe:old-name": "absent", "service:pppoe:new-name": "served"}


def test_password_change_is_one_sync_and_never_on_the_timeline(app, world):
    sub_id = _create(app, world, plan_id=world["solo"].id, username="pw")
    settle_all(app)
    with app.app_context():
        lines = subscriptions.edit(db.session.get(Subscription, sub_id), {"password": "brand-new-pw"},
                                   db.session.get(User, world["staff"].id))
        db.session.commit()
        assert lines == ["password changed"]
        text = " ".join(db.session.scalars(select(CustomerEvent.summary)).all()) + " ".join(
            db.session.scalars(select(AuditEntry.detail)).all())
        assert "brand-new-pw" not in text
    queued = [c for c in commands(app) if c["state"] == "pending"]
    assert len(queued) == 1 and queued[0]["key"] == "service:pppoe:pw"
    assert queued[0]["payload"]["kick"] is True  # the live session must log in again with the new password


def test_a_caller_id_lock_kicks_the_session_and_a_setting_alone_changes_nothing_on_the_router(app, world):
    sub_id = _create(app, world, plan_id=world["solo"].id, username="lock")
    static_id = _create(app, world, plan_id=world["static"].id, router_id=world["r1"].id, username="st-k",
                        static_ip="10.3.0.2")
    settle_all(app)
    with app.app_context():
        actor = db.session.get(User, world["staff"].id)
        subscriptions.edit(db.session.get(Subscription, sub_id), {"auto_renew": False}, actor)
        db.session.commit()
        assert [c for c in commands(app) if c["state"] == "pending"] == []
        subscriptions.edit(db.session.get(Subscription, sub_id), {"caller_id": "aa:bb:cc:dd:ee:01"}, actor)
        subscriptions.edit(db.session.get(Subscription, static_id), {"caller_id": "aa:bb:cc:dd:ee:02"}, actor)
        db.session.commit()
    applied = {c["key"]: c["payload"]["kick"] for c in commands(app, "service.apply") if c["state"] == "pending"}
    assert applied["service:pppoe:lock"] is True
    assert [kick for key, kick in applied.items() if key.startswith("service:static")] == [False]  # no session to kick


def test_edit_refuses_taken_ip_and_router_outside_plan(app, world):
    _create(app, world, plan_id=world["static"].id, router_id=world["r2"].id, username="s-a", static_ip="10.1.0.2")
    sub_id = _create(app, world, plan_id=world["static"].id, router_id=world["r1"].id, username="s-b", static_ip="10.1.0.2")
    with app.app_context():
        sub = db.session.get(Subscription, sub_id)
        actor = db.session.get(User, world["staff"].id)
        with pytest.raises(ServiceError, match="already used on"):
            subscriptions.edit(sub, {"router_id": world["r2"].id}, actor)
        db.session.rollback()
        solo = db.session.get(Subscription, _create(app, world, plan_id=world["solo"].id, username="solo-1"))
        with pytest.raises(ServiceError, match="not sold on that router"):
            subscriptions.edit(solo, {"router_id": world["r1"].id}, actor)


def test_reveal_password_is_staff_only_and_audited_without_the_secret(app, world, make_seller):
    sub_id = _create(app, world, plan_id=world["solo"].id, username="rev", password="reveal-me-1")
    seller = make_seller()
    with app.app_context():
        sub = db.session.get(Subscription, sub_id)
        assert subscriptions.reveal_password(sub, db.session.get(User, world["staff"].id)) == "reveal-me-1"
        with pytest.raises(ServiceError):
            subscriptions.reveal_password(sub, db.session.get(User, seller.id))
        db.session.commit()
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "subscription.reveal_password"))
        assert entry.actor_id == world["staff"].id and "reveal-me-1" not in entry.detail


def test_state_buttons_need_a_reason_and_go_through_the_lifecycle(app, world):
    sub_id = _create(app, world, plan_id=world["solo"].id, username="st")
    settle_all(app)
    with app.app_context():
        sub = db.session.get(Subscription, sub_id)
        actor = db.session.get(User, world["staff"].id)
        with pytest.raises(ServiceError, match="reason"):
            subscriptions.change_state(sub, "suspend", actor, " ")
        assert subscriptions.change_state(sub, "suspend", actor, "asked to pause") == SubscriptionState.suspended
        db.session.commit()
        event = db.session.scalar(select(CustomerEvent).where(CustomerEvent.to_state == "suspended"))
        assert event.from_state == "active" and "asked to pause" in event.summary and event.actor_id == actor.id
    queued = [c for c in commands(app) if c["state"] == "pending"]
    assert queued and queued[0]["payload"]["kick"] is True
    with app.app_context():
        sub = db.session.get(Subscription, sub_id)
        actor = db.session.get(User, world["staff"].id)
        subscriptions.change_state(sub, "terminate", actor, "moved away")
        db.session.commit()
        with pytest.raises(ServiceError, match="terminated"):
            subscriptions.edit(sub, {"password": "another-pw"}, actor)


def test_kick_queues_one_critical_command(app, world):
    sub_id = _create(app, world, plan_id=world["solo"].id, username="kickme")
    settle_all(app)
    with app.app_context():
        subscriptions.kick(db.session.get(Subscription, sub_id), db.session.get(User, world["staff"].id))
        db.session.commit()
    queued = [c for c in commands(app) if c["state"] == "pending"]
    assert [c["key"] for c in queued] == ["kick:pppoe:kickme"]


def test_grace_days_are_staff_only(app, world, make_seller, make_customer):
    """A reseller cannot give a customer free days of service: refused by the service, absent from their form."""
    seller = make_seller()
    own = make_customer(seller.id)
    with app.app_context():
        actor = db.session.get(User, seller.id)
        customer = db.session.get(Customer, own.id)
        with pytest.raises(ServiceError) as err:
            subscriptions.create(customer, {"plan_id": world["solo"].id, "username": "free1", "grace_days": "365"}, actor)
        assert err.value.field == "grace_days"
        db.session.rollback()
        sub = subscriptions.create(db.session.get(Customer, own.id), {"plan_id": world["solo"].id, "username": "free1"},
                                   db.session.get(User, seller.id))
        db.session.commit()
        sub_id = sub.id
    with app.app_context():
        sub, actor = db.session.get(Subscription, sub_id), db.session.get(User, seller.id)
        with pytest.raises(ServiceError) as err:
            subscriptions.edit(sub, {"grace_days": "365"}, actor)
        assert err.value.field == "grace_days"
        db.session.rollback()
        sub, actor = db.session.get(Subscription, sub_id), db.session.get(User, seller.id)
        sub.grace_days = 3  # set by staff
        db.session.commit()
        assert subscriptions.edit(sub, {"grace_days": "", "auto_renew": False}, actor) == ["auto-renew: True → False"]
        db.session.commit()
        assert db.session.get(Subscription, sub_id).grace_days == 3  # the reseller's form has no field: kept
        staff = db.session.get(User, world["staff"].id)
        subscriptions.edit(db.session.get(Subscription, sub_id), {"grace_days": "10"}, staff)
        db.session.commit()
        assert db.session.get(Subscription, sub_id).grace_days == 10


def test_the_resellers_service_form_has_no_grace_days(app, client, auth, world, make_seller, make_customer):
    from tests.conftest import TEST_PASSWORD, csrf_from

    seller = make_seller()
    own = make_customer(seller.id)
    reseller = app.test_client()
    token = csrf_from(reseller.get("/auth/login").get_data(as_text=True))
    reseller.post("/auth/login", data={"username": seller.username, "password": TEST_PASSWORD, "csrf_token": token})
    page = reseller.get(f"/customers/{own.id}/services/new").get_data(as_text=True)
    assert 'name="username"' in page and 'name="grace_days"' not in page
    response = reseller.post(f"/customers/{own.id}/services/new", data={
        "plan_id": world["solo"].id, "router_id": world["r2"].id, "username": "sneaky", "grace_days": "365",
        "auto_renew": "y", "csrf_token": csrf_from(page)})
    assert response.status_code == 302
    with app.app_context():
        sub = db.session.scalar(select(Subscription).where(Subscription.username == "sneaky"))
        assert sub is not None and sub.grace_days is None
    auth.login(world["staff"].username)
    assert 'name="grace_days"' in client.get(f"/customers/{own.id}/services/new").get_data(as_text=True)
