"""Reconcile: a router that drifted from SQL (users deleted in Winbox, a reset, a hand edit) is put right in one run."""
import json

import librouteros
import pytest
from sqlalchemy import select

from isp import dispatch
from isp.extensions import db as _db
from isp.models import Router, Voucher, VoucherState
from isp.services import reconcile
from tests.conftest import SIM_PASSWORD, run_worker
from tests.pipeline.helpers import user_names

USERS = "/ip/hotspot/user"
PROFILES = "/ip/hotspot/user/profile"


@pytest.fixture
def fleet_router(app, sim, make_user, make_router, make_plan, generate):
    """A router holding one plan's profile and 30 pushed vouchers (plus whatever else the test adds)."""
    sim_router = sim.routers[2]
    api = _api(sim_router)
    for menu in (USERS, PROFILES):  # the session-wide simulator may hold another test's objects
        for row in api(f"{menu}/print"):
            if row.get("default") not in (True, "true"):
                tuple(api(f"{menu}/remove", **{".id": row[".id"]}))
    admin = make_user("admin")
    router = make_router(sim_router)
    plan = make_plan([router.id], time_quota="20m")
    generate(admin.id, plan.id, 30, router_id=router.id, prefix="R", length=8)
    run_worker(app)
    assert len(_codes(app)) == 30 and set(_codes(app)) <= set(user_names(sim_router))
    yield sim_router, router, plan, api
    api.close()


def _api(sim_router):
    return librouteros.connect("127.0.0.1", username="admin", password=SIM_PASSWORD, port=sim_router.port, timeout=5)


def _codes(app, states=(VoucherState.unused, VoucherState.active)):
    with app.app_context():
        return sorted(_db.session.scalars(select(Voucher.code).where(Voucher.state.in_(states))))


def _reconcile(app, router_id, run=True):
    """What the clock or the Sync now button does: run the reconcile job, then the fixes it queued."""
    with app.app_context():
        assert reconcile.request_sync(_db.session.get(Router, router_id))
        _db.session.commit()
    if run:
        run_worker(app)
    with app.app_context():
        return reconcile.last_report(router_id)


def _by_name(api, menu):
    return {row["name"]: row for row in api(f"{menu}/print")}


def test_users_deleted_behind_our_back_come_back(app, fleet_router):
    sim_router, router, _, api = fleet_router
    victims = _codes(app)[:5]
    for name in victims:
        tuple(api(f"{USERS}/remove", **{".id": _by_name(api, USERS)[name][".id"]}))
    assert not set(victims) & set(user_names(sim_router))
    report = _reconcile(app, router.id)
    assert report["users"]["missing"] == 5 and report["users"]["changed"] == 0 and report["fixed"] == 5
    assert sorted(report["users"]["examples"]["missing"]) == sorted(victims)
    assert set(_codes(app)) <= set(user_names(sim_router))
    # A second run finds nothing left to do.
    again = _reconcile(app, router.id)
    assert again["fixed"] == 0 and again["users"]["missing"] == 0


def test_a_router_reset_to_defaults_is_rebuilt_profiles_first(app, fleet_router):
    sim_router, router, plan, api = fleet_router
    for menu in (USERS, PROFILES):
        for row in api(f"{menu}/print"):
            if row.get("default") not in (True, "true"):
                tuple(api(f"{menu}/remove", **{".id": row[".id"]}))
    sim_router.state.reboot()
    report = _reconcile(app, router.id)
    assert report["users"]["missing"] == 30 and report["profiles"]["missing"] == 1
    users = _by_name(api, USERS)
    assert set(_codes(app)) == set(users) - {"default-trial"}
    assert all(users[code]["profile"] == plan.profile and users[code]["limit-uptime"] for code in _codes(app))
    assert plan.profile in _by_name(api, PROFILES)


def test_an_attribute_changed_by_hand_is_put_back(app, fleet_router):
    sim_router, router, plan, api = fleet_router
    first, second = _codes(app)[:2]
    users = _by_name(api, USERS)
    tuple(api(f"{USERS}/set", **{".id": users[first][".id"], "password": "hijacked"}))
    tuple(api(f"{USERS}/set", **{".id": users[second][".id"], "disabled": "yes"}))
    profile = _by_name(api, PROFILES)[plan.profile]
    tuple(api(f"{PROFILES}/set", **{".id": profile[".id"], "rate-limit": "100M/100M"}))
    report = _reconcile(app, router.id)
    assert report["users"]["changed"] == 2 and report["profiles"]["changed"] == 1
    users = _by_name(api, USERS)
    with app.app_context():
        password = _db.session.scalar(select(Voucher.password).where(Voucher.code == first))
    assert users[first]["password"] == password
    assert users[second]["disabled"] in (False, "false")
    assert _by_name(api, PROFILES)[plan.profile]["rate-limit"] == "2M/4M"


def test_unmanaged_objects_are_left_alone_and_our_leftovers_removed(app, fleet_router):
    sim_router, router, _, api = fleet_router
    tuple(api(f"{USERS}/add", name="staff-laptop", password="x"))
    tuple(api(f"{PROFILES}/add", name="guests", **{"rate-limit": "1M/1M"}))
    tuple(api(f"{USERS}/add", name="GHOST1234", password="x", comment="isp voucher batch 999"))
    report = _reconcile(app, router.id)
    assert report["users"]["unmanaged"] >= 1 and report["profiles"]["unmanaged"] >= 1
    assert report["users"]["leftover"] == 1 and report["users"]["examples"]["leftover"] == ["GHOST1234"]
    names = set(user_names(sim_router))
    assert "staff-laptop" in names and "GHOST1234" not in names
    assert "guests" in _by_name(api, PROFILES)


def test_retired_vouchers_still_on_the_router_are_retired_again(app, fleet_router):
    sim_router, router, _, api = fleet_router
    code = _codes(app)[0]
    with app.app_context():
        voucher = _db.session.scalar(select(Voucher).where(Voucher.code == code))
        voucher.state = VoucherState.expired  # as if the retire command had been lost with a router swap
        _db.session.commit()
    report = _reconcile(app, router.id)
    assert report["users"]["leftover"] == 1 and code not in user_names(sim_router)


def test_sync_now_from_the_router_page_shows_the_drift_found_and_fixed(app, client, auth, fleet_router):
    sim_router, router, _, api = fleet_router
    victim = _codes(app)[0]
    tuple(api(f"{USERS}/remove", **{".id": _by_name(api, USERS)[victim][".id"]}))
    auth.login_as("operator")
    html = client.get(f"/routers/{router.id}").get_data(as_text=True)
    assert 'data-test="sync-never"' in html and 'data-test="sync-now"' in html
    queued = client.post(f"/routers/{router.id}/sync", data={"csrf_token": auth.token()},
                         headers={"HX-Request": "true"})
    assert queued.status_code == 200 and "Sync queued" in queued.get_data(as_text=True)
    run_worker(app)
    html = client.get(f"/routers/{router.id}").get_data(as_text=True)
    assert "Drift fixed" in html and victim in html
    assert victim in user_names(sim_router)


def test_sync_now_needs_csrf_and_staff(app, client, auth, fleet_router):
    _, router, _, _ = fleet_router
    auth.login_as("operator")
    assert client.post(f"/routers/{router.id}/sync").status_code == 400  # no CSRF token
    with app.app_context():
        assert not dispatch.alive([reconcile.job_id(router.id)])


def test_a_reboot_seen_by_the_metrics_poll_queues_a_reconcile(app, fleet_router):
    from isp.jobs.monitor import poll_router
    from isp.routeros import status

    _, router, _, _ = fleet_router
    with app.app_context():
        assert poll_router(router.id) == "ok"
        assert not dispatch.alive([reconcile.job_id(router.id)])
        # The previous poll saw a router up for ten days; this one sees it freshly booted.
        before = status.latest_metrics(router.id)
        app.config["REDIS_CLIENT"].set(status.metrics_key(router.id), json.dumps({**before, "uptime": "10d"}))
        assert poll_router(router.id) == "ok"
        assert dispatch.alive([reconcile.job_id(router.id)])


def test_a_name_we_need_held_by_someone_elses_user_is_reported_not_taken(app, fleet_router):
    sim_router, router, _, api = fleet_router
    code = _codes(app)[0]
    row = _by_name(api, USERS)[code]
    # Someone replaced our voucher user with their own under the same name (no tag in the comment).
    tuple(api(f"{USERS}/set", **{".id": row[".id"], "comment": "staff phone", "password": "theirs"}))
    tuple(api(f"{PROFILES}/add", name="isp-staff", **{"rate-limit": "9M/9M"}))  # looks like ours, is not
    report = _reconcile(app, router.id)
    assert report["users"]["conflict"] == 1 and report["users"]["examples"]["conflict"] == [code]
    assert report["fixed"] == 0
    users, profiles = _by_name(api, USERS), _by_name(api, PROFILES)
    assert users[code]["password"] == "theirs" and users[code]["comment"] == "staff phone"
    assert profiles["isp-staff"]["rate-limit"] == "9M/9M"


def test_a_used_vouchers_limits_are_left_to_the_router(app, fleet_router):
    sim_router, router, _, api = fleet_router
    code = _codes(app)[0]
    with app.app_context():
        voucher = _db.session.scalar(select(Voucher).where(Voucher.code == code))
        voucher.state, voucher.uptime_seconds = VoucherState.active, 300  # 5 of its 20 minutes used
        voucher.first_login_at = voucher.expires_at = None
        _db.session.commit()
    users = _by_name(api, USERS)
    tuple(api(f"{USERS}/set", **{".id": users[code][".id"], "profile": "default"}))  # a hand edit
    report = _reconcile(app, router.id)
    assert report["users"]["changed"] == 1
    user = _by_name(api, USERS)[code]
    # The profile is put back, but the limit stays the full 20 min the router counts its uptime against.
    assert user["profile"] != "default" and user["limit-uptime"] == "20m"


def test_retired_vouchers_stay_disabled_when_the_expiry_action_is_disable(app, fleet_router):
    from isp.models import Branding

    sim_router, router, _, api = fleet_router
    expired, disabled_by_hand = _codes(app)[:2]
    with app.app_context():
        branding = _db.session.get(Branding, 1) or Branding(id=1, business_name="", currency="", logo_mime="")
        branding.expiry_action = "disable"
        _db.session.add(branding)
        for voucher in _db.session.scalars(select(Voucher).where(Voucher.code.in_([expired, disabled_by_hand]))):
            voucher.state = VoucherState.expired
        _db.session.commit()
    tuple(api(f"{USERS}/set", **{".id": _by_name(api, USERS)[disabled_by_hand][".id"], "disabled": "yes"}))
    report = _reconcile(app, router.id)
    assert report["users"]["leftover"] == 1 and report["users"]["examples"]["leftover"] == [expired]
    users = _by_name(api, USERS)
    assert users[expired]["disabled"] in (True, "true") and users[disabled_by_hand]["disabled"] in (True, "true")


def test_a_reseller_cannot_sync_a_router(app, client, auth, fleet_router):
    _, router, _, _ = fleet_router
    auth.login_as("reseller")
    response = client.post(f"/routers/{router.id}/sync", data={"csrf_token": auth.token()})
    assert response.status_code in (302, 403)
    with app.app_context():
        assert not dispatch.alive([reconcile.job_id(router.id)])
