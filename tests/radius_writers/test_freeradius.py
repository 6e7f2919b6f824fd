"""End to end with Debian's FreeRADIUS: what the writers put in the tables is what the server answers."""
from __future__ import annotations

from datetime import timedelta

from isp.extensions import db as _db
from isp.models import Subscription, SubscriptionState
from isp.models.base import utcnow
from isp.services import branding, lifecycle, provisioning

S = SubscriptionState
PASSWORD = "Green-Lantern-58"


def login(server, name: str, password: str = PASSWORD) -> tuple[str, dict]:
    """One PAP Access-Request from the router's address."""
    return server.radclient({"User-Name": name, "User-Password": password, "NAS-IP-Address": "127.0.0.1"})


def _sub(app, world, name: str, **plan_fields) -> int:
    plan = world.plan(rate_limit="3M/6M 6M/12M 2M/4M 16/16", **plan_fields)
    sub = world.sub(plan, name, password=PASSWORD, grace_days=0)
    with app.app_context():
        provisioning.sync(_db.session.get(Subscription, sub))
        _db.session.commit()
    return sub


def test_an_active_subscription_is_accepted_with_its_plans_rate_limit(app, world, freeradius):
    _sub(app, world, "fr-alice", address_pool="pool-home")
    code, reply = login(freeradius, "fr-alice")
    assert code == "Access-Accept", freeradius.log()
    assert reply["Mikrotik-Rate-Limit"] == "3M/6M 6M/12M 2M/4M 16/16"
    assert reply["Acct-Interim-Interval"] == 300 and reply["Framed-Pool"] == "pool-home"
    # Expiration (paid_until, 10 days ahead, + 0 days of grace) bounds the session, read as UTC by the server.
    assert 10 * 86400 - 120 <= reply["Session-Timeout"] <= 10 * 86400
    assert login(freeradius, "fr-alice", "not-the-password")[0] == "Access-Reject"


def test_a_suspended_subscription_is_rejected_and_a_payment_brings_it_back(app, world, freeradius):
    sub = _sub(app, world, "fr-bob")
    assert login(freeradius, "fr-bob")[0] == "Access-Accept", freeradius.log()
    with app.app_context():
        lifecycle.transition(_db.session.get(Subscription, sub), S.suspended, None, "Grace ended without payment")
        _db.session.commit()
    assert login(freeradius, "fr-bob")[0] == "Access-Reject"
    with app.app_context():
        lifecycle.transition(_db.session.get(Subscription, sub), S.active, None, "Paid")
        _db.session.commit()
    assert login(freeradius, "fr-bob")[0] == "Access-Accept"


def test_the_walled_garden_accepts_a_suspended_login_into_the_address_list(app, world, freeradius):
    sub = _sub(app, world, "fr-carl")
    with app.app_context():
        branding.get().radius_suspend_action = "walled-garden"
        lifecycle.transition(_db.session.get(Subscription, sub), S.suspended, None, "Grace ended without payment")
        _db.session.commit()
    code, reply = login(freeradius, "fr-carl")
    assert code == "Access-Accept", freeradius.log()
    assert reply["Mikrotik-Address-List"] == "isp-suspended" and reply["Mikrotik-Rate-Limit"] == "256k/256k"


def test_a_subscription_is_rejected_once_its_expiration_passes(app, world, freeradius):
    sub = _sub(app, world, "fr-dora")
    assert login(freeradius, "fr-dora")[0] == "Access-Accept", freeradius.log()
    with app.app_context():
        row = _db.session.get(Subscription, sub)
        row.paid_until = utcnow() - timedelta(minutes=1)  # paid time and grace (0 days) over; no billing run yet
        provisioning.sync(row)
        _db.session.commit()
    assert login(freeradius, "fr-dora")[0] == "Access-Reject"


def test_a_terminated_subscription_is_unknown_to_the_server(app, world, freeradius):
    sub = _sub(app, world, "fr-eve")
    with app.app_context():
        lifecycle.transition(_db.session.get(Subscription, sub), S.terminated, None, "Cancelled")
        _db.session.commit()
    assert login(freeradius, "fr-eve")[0] == "Access-Reject"


def test_a_plan_edit_reaches_the_next_login_without_touching_the_user(app, world, freeradius):
    from isp.models import ServicePlan
    from isp.services import service_plans

    sub = _sub(app, world, "fr-finn")
    with app.app_context():
        plan = _db.session.get(Subscription, sub).plan
        service_plans.update_plan(plan, {"name": plan.name, "kind": "pppoe", "price": "20.00", "period_unit": "month",
                                         "period_count": 1, "rate_limit": "9M/18M", "shared_users": 1,
                                         "router_ids": [world.router_id], "active": True})
        _db.session.commit()
        assert _db.session.get(ServicePlan, plan.id).rate_limit == "9M/18M"
    code, reply = login(freeradius, "fr-finn")
    assert code == "Access-Accept" and reply["Mikrotik-Rate-Limit"] == "9M/18M"


def test_a_caller_id_lock_admits_only_that_device(app, world, freeradius):
    plan = world.plan(rate_limit="1M/2M")
    sub = world.sub(plan, "fr-gus", password=PASSWORD, caller_id="02:AA:BB:CC:DD:EE", static_ip="10.9.8.7")
    with app.app_context():
        provisioning.sync(_db.session.get(Subscription, sub))
        _db.session.commit()

    def attempt(mac: str) -> tuple[str, dict]:
        return freeradius.radclient({"User-Name": "fr-gus", "User-Password": PASSWORD, "NAS-IP-Address": "127.0.0.1",
                                     "Calling-Station-Id": mac})

    code, reply = attempt("02:AA:BB:CC:DD:EE")
    assert code == "Access-Accept", freeradius.log()
    assert reply["Framed-IP-Address"] == "10.9.8.7"
    assert attempt("02:AA:BB:CC:DD:EF")[0] == "Access-Reject"


def test_the_plans_shared_users_limit_the_simultaneous_logins(app, world, freeradius):
    _sub(app, world, "fr-hal", shared_users=1)

    def acct(status: str) -> str:
        return freeradius.radclient({"User-Name": "fr-hal", "Acct-Status-Type": status, "Acct-Session-Id": "hal-1",
                                     "NAS-IP-Address": "127.0.0.1", "NAS-Port": 3, "Framed-IP-Address": "10.9.1.1"},
                                    kind="acct")[0]

    assert login(freeradius, "fr-hal")[0] == "Access-Accept", freeradius.log()
    assert acct("Start") == "Accounting-Response"
    assert login(freeradius, "fr-hal")[0] == "Access-Reject"  # one session open, one allowed
    assert acct("Stop") == "Accounting-Response"
    assert login(freeradius, "fr-hal")[0] == "Access-Accept"
