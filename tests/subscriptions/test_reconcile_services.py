"""Reconcile covers what subscriptions put on routers: deleted items come back, leftovers go, the rest is left alone."""
from __future__ import annotations

import pytest

from isp.extensions import db as _db
from isp.models import CommandState, Router, Subscription
from isp.services import provisioning, reconcile
from tests.subscriptions.test_provisioning import (
    LISTS,
    PPP_PROFILES,
    QUEUES,
    SECRETS,
    USER_PROFILES,
    USERS,
    S,
    World,
    entries,
    rows,
    wipe,
)


@pytest.fixture
def world(app, sim, make_router):
    """Two simulated routers, emptied, registered in api mode."""
    yield World(app, sim, make_router)
    for sim_router in sim.routers[:2]:
        wipe(sim_router)


@pytest.fixture
def placed(world):
    """On router 1: two PPPoE services (one suspended), a hotspot service and two static ones, all pushed."""
    ppp, hs, static = world.plan("pppoe", "2M/4M"), world.plan("hotspot", "1M/1M"), world.plan("static", "5M/5M")
    subs = {"ann": world.sub(ppp, "ann"), "ben": world.sub(ppp, "ben", state=S.suspended),
            "cat": world.sub(hs, "cat"), "dan": world.sub(static, "dan", static_ip="10.40.0.1"),
            "eve": world.sub(static, "eve", static_ip="10.40.0.2")}
    with world.app.app_context():
        provisioning.sync_many(list(subs.values()))
        _db.session.commit()
    world.run()
    r1 = world.sims[0]
    assert set(rows(r1, SECRETS)) == {"ann", "ben"} and set(rows(r1, QUEUES)) == {"isp-dan", "isp-eve"}
    return world, subs


def reconcile_now(world, index=0):
    """What Sync now does: the reconcile job, then the fixes it queued; returns the report."""
    router_id = world.routers[index].id
    with world.app.app_context():
        assert reconcile.request_sync(_db.session.get(Router, router_id))
        _db.session.commit()
    world.run()
    with world.app.app_context():
        return reconcile.last_report(router_id)


def delete(sim_router, path, **match):
    """Remove matching items behind the panel's back, as someone in Winbox would."""
    with sim_router.state.lock:
        menu = sim_router.state.menu(path)
        for item in list(menu.items.values()):
            if all(item.get(k) == v for k, v in match.items()):
                menu.delete(item)


def test_deleted_secrets_queues_and_list_entries_come_back(placed):
    world, _ = placed
    r1 = world.sims[0]
    delete(r1, SECRETS, name="ann")
    delete(r1, QUEUES, name="isp-dan")
    delete(r1, LISTS, address="10.40.0.2")
    report = reconcile_now(world)
    assert report["secrets"]["missing"] == 1 and report["secrets"]["examples"]["missing"] == ["ann"]
    assert report["queues"]["missing"] == 1 and report["address_lists"]["missing"] == 1
    assert report["fixed"] == 3
    assert rows(r1, SECRETS)["ann"]["password"] == "s3cret-pw"
    assert rows(r1, QUEUES)["isp-dan"]["max-limit"] == "5000000/5000000"
    assert entries(r1) == {("isp-active", "10.40.0.1"), ("isp-active", "10.40.0.2")}
    again = reconcile_now(world)
    assert again["fixed"] == 0 and again["secrets"]["missing"] == 0


def test_a_suspended_service_enabled_by_hand_is_disabled_again(placed):
    world, _ = placed
    r1 = world.sims[0]
    with r1.state.lock:
        r1.state.menu(SECRETS).by_name("ben")["disabled"] = "false"
        r1.state.menu(SECRETS).by_name("ann")["profile"] = "default"
    report = reconcile_now(world)
    assert report["secrets"]["changed"] == 2
    secrets = rows(r1, SECRETS)
    assert secrets["ben"]["disabled"] == "true" and secrets["ann"]["profile"] == "isp-plan-1"


def test_owned_leftovers_are_removed_and_unowned_items_left_alone(placed):
    world, _ = placed
    r1 = world.sims[0]
    r1.state.add(SECRETS, name="ghost", password="x", comment="isp service ISP-999999")
    r1.state.add(SECRETS, name="staff-vpn", password="x", comment="office")
    r1.state.add(QUEUES, name="isp-gone", target="10.40.9.9/32", comment="isp service ISP-999999 plan 1")
    r1.state.add(QUEUES, name="uplink", target="10.0.0.0/8")
    r1.state.add(LISTS, list="isp-active", address="10.40.9.9", comment="isp service gone")
    r1.state.add(LISTS, list="isp-active", address="10.40.9.8", comment="hand made")
    r1.state.add(LISTS, list="blocked", address="10.40.9.7", comment="isp service x")
    r1.state.add(PPP_PROFILES, name="isp-staff", rate_limit="9M/9M")
    report = reconcile_now(world)
    assert report["secrets"]["leftover"] == 1 and report["secrets"]["examples"]["leftover"] == ["ghost"]
    assert report["queues"]["leftover"] == 1 and report["address_lists"]["leftover"] == 1
    assert report["secrets"]["unmanaged"] == 1 and report["queues"]["unmanaged"] == 1
    assert report["address_lists"]["unmanaged"] == 1
    assert set(rows(r1, SECRETS)) == {"ann", "ben", "staff-vpn"}
    assert set(rows(r1, QUEUES)) == {"isp-dan", "isp-eve", "uplink"}
    assert entries(r1) == {("isp-active", "10.40.0.1"), ("isp-active", "10.40.0.2"), ("isp-active", "10.40.9.8"),
                           ("blocked", "10.40.9.7")}
    assert rows(r1, PPP_PROFILES)["isp-staff"]["rate-limit"] == "9M/9M"


def test_a_terminated_service_still_on_the_router_is_removed(placed):
    world, subs = placed
    with world.app.app_context():
        _db.session.get(Subscription, subs["eve"]).state = S.terminated  # as if its removal had been lost
        _db.session.commit()
    report = reconcile_now(world)
    assert report["queues"]["leftover"] == 1 and report["address_lists"]["leftover"] == 1
    assert set(rows(world.sims[0], QUEUES)) == {"isp-dan"} and entries(world.sims[0]) == {("isp-active", "10.40.0.1")}


def test_a_reset_router_gets_its_subscribers_back_by_itself(placed):
    world, _ = placed
    r1 = world.sims[0]
    wipe(r1)
    r1.state.reboot()
    report = reconcile_now(world)
    assert report["secrets"]["missing"] == 2 and report["subscribers"]["missing"] == 1
    assert report["queues"]["missing"] == 2 and report["ppp_profiles"]["missing"] == 1
    assert report["service_profiles"]["missing"] == 1
    secrets = rows(r1, SECRETS)
    assert secrets["ann"]["disabled"] == "false" and secrets["ben"]["disabled"] == "true"
    assert rows(r1, PPP_PROFILES)["isp-plan-1"]["rate-limit"] == "2M/4M"
    assert rows(r1, USER_PROFILES)["isp-plan-2"]["rate-limit"] == "1M/1M"
    assert rows(r1, USERS)["cat"]["profile"] == "isp-plan-2"
    assert entries(r1) == {("isp-active", "10.40.0.1"), ("isp-active", "10.40.0.2")}
    assert r1.login("ann", "ppp") is None and r1.login("ben", "ppp") == "user disabled"
    assert reconcile_now(world)["fixed"] == 0


def test_a_plan_profile_changed_by_hand_is_put_back_by_its_plan_command(placed):
    world, _ = placed
    r1 = world.sims[0]
    with r1.state.lock:
        r1.state.menu(PPP_PROFILES).by_name("isp-plan-1")["rate-limit"] = "100M/100M"
    report = reconcile_now(world)
    assert report["ppp_profiles"]["changed"] == 1 and report["secrets"]["changed"] == 0
    assert rows(r1, PPP_PROFILES)["isp-plan-1"]["rate-limit"] == "2M/4M"
    assert world.commands()[-1].operation == "plan.apply"


def test_restrict_mode_is_what_reconcile_expects_of_a_suspended_service(placed):
    world, _ = placed
    world.suspend_mode("restrict")
    report = reconcile_now(world)
    assert report["secrets"]["changed"] == 1 and report["ppp_profiles"]["missing"] == 1
    secret = rows(world.sims[0], SECRETS)["ben"]
    assert (secret["profile"], secret["disabled"]) == ("isp-suspended", "false")
    assert rows(world.sims[0], PPP_PROFILES)["isp-suspended"]["address-list"] == "isp-suspended"


def test_a_service_with_a_command_on_its_way_is_not_touched(placed):
    world, subs = placed
    r1 = world.sims[0]
    delete(r1, SECRETS, name="ann")
    world.sync(subs["ann"])  # queued, not yet run
    from isp.jobs.reconcile import reconcile_router

    with world.app.app_context():  # the reconcile job alone, before any worker runs the queued change
        reconcile_router(world.routers[0].id, "test")
        report = reconcile.last_report(world.routers[0].id)
    assert report["secrets"]["in_flight"] == 1 and report["secrets"]["missing"] == 0
    assert len(world.commands(state=CommandState.pending)) == 1


def test_vouchers_and_subscribers_share_the_hotspot_menus_without_mixing(placed, make_user, make_plan, generate):
    world, _ = placed
    r1 = world.sims[0]
    admin = make_user("admin")
    plan = make_plan([world.routers[0].id])
    generate(admin.id, plan.id, 3, router_id=world.routers[0].id, prefix="V", length=6)
    world.run()
    vouchers = {n for n, row in rows(r1, USERS).items() if row["comment"].startswith("isp voucher")}
    assert len(vouchers) == 3
    delete(r1, USERS, name=sorted(vouchers)[0])
    delete(r1, USERS, name="cat")
    report = reconcile_now(world)
    assert report["users"]["missing"] == 1 and report["users"]["leftover"] == 0 and report["users"]["unmanaged"] == 0
    assert report["subscribers"]["missing"] == 1 and report["subscribers"]["leftover"] == 0
    # The service plan's profile is neither a voucher profile nor "unmanaged" (only the router's default is).
    assert report["profiles"]["unmanaged"] == 1 and report["service_profiles"]["leftover"] == 0
    assert vouchers | {"cat"} <= set(rows(r1, USERS))


def test_the_router_page_shows_service_drift(placed, client, auth):
    world, _ = placed
    delete(world.sims[0], SECRETS, name="ann")
    reconcile_now(world)
    auth.login_as("operator")
    html = client.get(f"/routers/{world.routers[0].id}").get_data(as_text=True)
    assert "Drift fixed" in html and "Missing ppp secrets: ann" in html and "Simple queues" in html
