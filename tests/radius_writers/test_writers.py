"""What a subscription and its plan write into FreeRADIUS's tables on a radius-mode router, per state."""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from isp.extensions import db as _db
from isp.models import RouterCommand, ServicePlan, Subscription, SubscriptionState
from isp.radius import writers
from isp.radius.models import RadCheck, RadGroupCheck, RadGroupReply, RadReply, RadUserGroup
from isp.services import branding, lifecycle, provisioning
from tests.radius_writers.conftest import commands, groups_of, rows

S = SubscriptionState
MAC = "02:11:22:33:44:55"


def _sync(app, sub_id, **kw):
    with app.app_context():
        provisioning.sync(_db.session.get(Subscription, sub_id), **kw)
        _db.session.commit()


def test_an_active_subscription_gets_password_expiry_lock_address_and_its_plan_group(app, world):
    plan = world.plan(rate_limit="2M/4M 4M/8M 1M/2M 16/16 8", address_pool="pppoe-pool", shared_users=2)
    sub = world.sub(plan, "alice", password="Pa55-word", caller_id=MAC, static_ip="10.9.0.20", grace_days=3)
    with app.app_context():
        row = _db.session.get(Subscription, sub)
        row.paid_until = datetime(2026, 9, 20, 12, 0, tzinfo=UTC)
        _db.session.commit()
    _sync(app, sub)
    with app.app_context():
        group = _db.session.get(ServicePlan, plan).profile_name
        assert rows(RadCheck, "alice") == {("Cleartext-Password", ":=", "Pa55-word"),
                                           ("Expiration", ":=", "23 Sep 2026 12:00:00"),  # paid_until + 3 days of grace
                                           ("Calling-Station-Id", "==", MAC)}
        assert rows(RadReply, "alice") == {("Framed-IP-Address", "=", "10.9.0.20")}
        assert groups_of("alice") == [group] and group.startswith("isp-svc-")
        assert rows(RadGroupReply, group) == {("Mikrotik-Rate-Limit", "=", "2M/4M 4M/8M 1M/2M 16/16 8"),
                                              ("Acct-Interim-Interval", "=", "300"), ("Framed-Pool", "=", "pppoe-pool")}
        assert rows(RadGroupCheck, group) == {("Simultaneous-Use", ":=", "2")}
        assert commands() == []  # nobody was online and no kick was asked


def test_a_capped_subscription_is_in_the_fup_group_with_the_fallback_rate(app, world):
    plan = world.plan(rate_limit="10M/10M", data_cap_bytes=10 ** 9, fup_rate_limit="512k/1M")
    sub = world.sub(plan, "carol", fup_active=True)
    _sync(app, sub)
    with app.app_context():
        group = _db.session.get(ServicePlan, plan).fup_profile_name
        assert groups_of("carol") == [group]
        assert ("Mikrotik-Rate-Limit", "=", "512k/1M") in rows(RadGroupReply, group)
        assert rows(RadGroupCheck, group) == {("Simultaneous-Use", ":=", "1")}


def test_suspension_moves_the_user_to_the_rejecting_group_and_disconnects_the_live_session(app, world):
    plan = world.plan()
    sub = world.sub(plan, "dave", state="grace")
    _sync(app, sub)
    world.online("dave")
    with app.app_context():
        lifecycle.transition(_db.session.get(Subscription, sub), S.suspended, None, "Grace ended without payment")
        _db.session.commit()
        assert groups_of("dave") == [writers.SUSPENDED_GROUP]
        assert rows(RadGroupCheck, writers.SUSPENDED_GROUP) == {("Auth-Type", ":=", "Reject")}
        # No Expiration while suspended (the group refuses; in the walled garden the login must still work).
        assert {a for a, _o, _v in rows(RadCheck, "dave")} == {"Cleartext-Password"}
        assert commands() == [("radius.disconnect", "dave", "critical")]


def test_the_walled_garden_lets_a_suspended_login_in_to_the_address_list_at_a_trickle(app, world):
    plan = world.plan()
    sub = world.sub(plan, "erin", state="suspended")
    with app.app_context():
        branding.get().radius_suspend_action = "walled-garden"
        _db.session.commit()
    _sync(app, sub)
    with app.app_context():
        assert groups_of("erin") == ["isp-suspended"]
        assert rows(RadGroupCheck, "isp-suspended") == set()
        assert rows(RadGroupReply, "isp-suspended") == {("Mikrotik-Address-List", "=", "isp-suspended"),
                                                        ("Mikrotik-Rate-Limit", "=", "256k/256k"),
                                                        ("Acct-Interim-Interval", "=", "300")}
        assert commands() == []  # not online: nothing to disconnect


def test_pending_and_terminated_users_hold_no_rows_and_a_live_one_is_disconnected(app, world):
    plan = world.plan()
    gone, waiting = world.sub(plan, "fred", caller_id=MAC, static_ip="10.9.0.30"), world.sub(plan, "gina", state="pending")
    _sync(app, gone)
    world.online("fred")
    with app.app_context():
        assert rows(RadCheck, "fred") and rows(RadReply, "fred") and groups_of("fred")
        lifecycle.transition(_db.session.get(Subscription, gone), S.terminated, None, "Moved away")
        provisioning.sync(_db.session.get(Subscription, waiting))
        _db.session.commit()
        for name in ("fred", "gina"):
            assert rows(RadCheck, name) == set() and rows(RadReply, name) == set() and groups_of(name) == []
        assert commands() == [("radius.disconnect", "fred", "critical")]


def test_a_kick_by_staff_queues_a_disconnect_on_critical(app, world):
    sub = world.sub(world.plan(), "hank")
    with app.app_context():
        provisioning.kick(_db.session.get(Subscription, sub))
        _db.session.commit()
        assert commands() == [("radius.disconnect", "hank", "critical")]


def test_a_new_username_takes_the_old_rows_away(app, world):
    sub = world.sub(world.plan(), "ivan")
    _sync(app, sub)
    with app.app_context():
        row = _db.session.get(Subscription, sub)
        provisioning.unplace(row.router, row.kind, "ivan", None)
        row.username = "ivan2"
        provisioning.sync(row)
        _db.session.commit()
        assert rows(RadCheck, "ivan") == set() and groups_of("ivan") == []
        assert groups_of("ivan2") == [row.plan.profile_name]
        assert commands() == [("radius.disconnect", "ivan", "critical")]


def test_a_password_the_key_cannot_open_skips_that_user_not_the_run(app, world):
    plan = world.plan()
    good, bad = world.sub(plan, "jack"), world.sub(plan, "kate")
    with app.app_context():
        _db.session.get(Subscription, bad).password_encrypted = "not-a-fernet-token"
        _db.session.commit()
        assert provisioning.sync_many([good, bad]) == 0
        _db.session.commit()
        assert groups_of("jack") and groups_of("kate") == []


def test_a_renewal_moves_the_expiration_forward(app, world):
    plan = world.plan()
    sub = world.sub(plan, "lena", grace_days=0)
    _sync(app, sub)
    with app.app_context():
        row = _db.session.get(Subscription, sub)
        before = rows(RadCheck, "lena")
        row.paid_until = datetime(2027, 1, 5, 6, 30, tzinfo=UTC)
        _db.session.commit()
        provisioning.refresh_expiry([sub])
        _db.session.commit()
        after = rows(RadCheck, "lena")
        assert ("Expiration", ":=", "05 Jan 2027 06:30:00") in after and after != before
        assert _db.session.scalar(select(func.count()).select_from(RouterCommand)) == 0


def test_the_group_rows_are_shared_not_copied_per_user(app, world):
    plan = world.plan()
    for i in range(30):
        world.sub(plan, f"user{i:02d}")
    with app.app_context():
        provisioning.sync_many(list(_db.session.scalars(select(Subscription.id))))
        _db.session.commit()
        group = _db.session.get(ServicePlan, plan).profile_name
        assert _db.session.scalar(select(func.count()).select_from(RadGroupReply).where(RadGroupReply.groupname == group)) == 2
        assert _db.session.scalar(select(func.count()).select_from(RadUserGroup).where(RadUserGroup.groupname == group)) == 30
        assert _db.session.scalar(select(func.count()).select_from(RadCheck)) == 60  # password + expiration each


def test_in_grace_the_expiration_is_the_moment_grace_ends(app, world):
    sub = world.sub(world.plan(), "mona", state="active", grace_days=3)
    with app.app_context():
        row = _db.session.get(Subscription, sub)
        row.paid_until = datetime(2026, 9, 20, 12, 0, tzinfo=UTC)
        lifecycle.transition(row, S.grace, None, "Not renewed")  # grace_until = paid_until + 3 days, fixed now
        row.grace_days = 10  # a later change of grace days does not move a grace already running
        provisioning.sync(row)
        _db.session.commit()
        assert ("Expiration", ":=", "23 Sep 2026 12:00:00") in rows(RadCheck, "mona")


def test_a_subscribers_sync_leaves_existing_group_rows_alone(app, world):
    plan = world.plan()
    first, second = world.sub(plan, "nina"), world.sub(plan, "otto")
    _sync(app, first)
    with app.app_context():
        group = _db.session.get(ServicePlan, plan).profile_name
        ids = set(_db.session.scalars(select(RadGroupReply.id).where(RadGroupReply.groupname == group)))
    _sync(app, second)
    with app.app_context():
        assert set(_db.session.scalars(select(RadGroupReply.id).where(RadGroupReply.groupname == group))) == ids
        assert groups_of("otto") == [group]


def test_a_static_ip_service_on_a_radius_router_stays_the_routers_own_queue(app, world):
    """Nothing logs in on a static IP, so FreeRADIUS has nothing to answer: the router shapes and cuts it (a simple
    queue and address lists over the API) whatever its mode, and no RADIUS row is written for it."""
    plan = world.plan(kind="static", rate_limit="10M/10M")
    sub_id = world.sub(plan, "office-7", static_ip="10.20.0.7")
    with app.app_context():
        provisioning.sync(_db.session.get(Subscription, sub_id))
        _db.session.commit()
        assert [c[0] for c in commands()] == ["service.apply"]  # the queue and isp-active entry, on the router
        assert not rows(RadCheck, "office-7") and not groups_of("office-7")
        provisioning.push_plan(_db.session.get(ServicePlan, plan))
        _db.session.commit()
        assert "plan.apply" in [c[0] for c in commands()] and not rows(RadGroupReply, "isp-svc-plan-1")


def test_a_radius_router_holding_static_services_is_polled_for_their_queues_only(app, world):
    """The static services' queues are only counted by our poll, so a radius-mode router holding one is polled; their
    live state comes from that poll, not from radacct (a static IP never logs in)."""
    from isp.services import sessions

    static, pppoe = world.plan(kind="static", rate_limit="10M/10M"), world.plan()
    ppp_id = world.sub(pppoe, "ppp-user")
    with app.app_context():
        assert world.router_id not in set(_db.session.scalars(sessions.routers_to_poll()))  # RADIUS covers PPPoE
    static_id = world.sub(static, "office-8", static_ip="10.20.0.8")
    with app.app_context():
        assert world.router_id in set(_db.session.scalars(sessions.routers_to_poll()))
        assert set(sessions._radius_usernames([static_id, ppp_id])) == {ppp_id}


def test_switching_mode_is_refused_while_the_router_has_live_vouchers(app, world, make_user, make_plan, generate):
    """A voucher stays where it was made (FreeRADIUS rows here): switching the router to api mode would leave live
    vouchers where the panel no longer looks, so the switch is refused with the count, and nothing changes."""
    import pytest

    from isp.models import Router, RouterMode
    from isp.services import routers
    from isp.services.errors import ServiceError

    admin = make_user("admin")
    generate(admin.id, make_plan([world.router_id]).id, 3, router_id=world.router_id)
    with app.app_context():
        router = _db.session.get(Router, world.router_id)
        data = {"name": router.name, "addresses": "127.0.0.1", "api_port": 8728, "username": "admin", "password": "x",
                "mode": "api", "max_sessions": 20}
        with pytest.raises(ServiceError) as refused:
            routers.update_router(router, data)
        assert refused.value.field == "mode" and "3 live vouchers" in refused.value.message
        _db.session.rollback()
        assert _db.session.get(Router, world.router_id).mode == RouterMode.radius
