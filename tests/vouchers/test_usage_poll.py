"""The usage poll costs what is active on a router, catches short first sessions, and skips a bad voucher."""
import time

import pytest
from sqlalchemy import select

from isp.extensions import db as _db
from isp.models import Voucher, VoucherEvent, VoucherState
from tests.conftest import run_worker


@pytest.fixture
def rows_read(monkeypatch):
    """Counts the /ip/hotspot/user rows each poll reads from the router."""
    from isp.jobs import vouchers as jobs

    seen: list[str] = []
    original = jobs._user_row

    def counting(row):
        seen.append(str(row.get("name")))
        return original(row)

    monkeypatch.setattr(jobs, "_user_row", counting)
    return seen


def _codes(app, batch_id):
    with app.app_context():
        return list(_db.session.scalars(select(Voucher.code).where(Voucher.batch_id == batch_id).order_by(Voucher.id)))


def _state(app, code):
    with app.app_context():
        return _db.session.scalar(select(Voucher.state).where(Voucher.code == code))


def _sync(app, router_id, sweep=False):
    from isp.jobs.vouchers import sync_usage

    with app.app_context():
        return sync_usage(router_id, sweep)


def _kick(router_sim, code):
    """The customer's session ends (as a logout or idle timeout would)."""
    import librouteros

    from tests.conftest import SIM_PASSWORD

    api = librouteros.connect("127.0.0.1", username="admin", password=SIM_PASSWORD, port=router_sim.port)
    try:
        ids = [r[".id"] for r in api.rawCmd("/ip/hotspot/active/print", f"?user={code}")]
        for item in ids:
            tuple(api.rawCmd("/ip/hotspot/active/remove", f"=.id={item}"))
    finally:
        api.close()


def _router_with_vouchers(app, sim, make_user, make_router, make_plan, generate, count, n=0, **plan):
    admin = make_user("admin")
    router_sim = sim.routers[n]
    router = make_router(router_sim)
    plan = make_plan([router.id], **plan)
    batch_id = generate(admin.id, plan.id, count, prefix="UP")  # never mistaken for another test's users on the shared simulator
    run_worker(app)
    return router_sim, router, _codes(app, batch_id)


def test_a_poll_reads_online_users_and_just_offline_ones_not_every_stored_user(
        app, sim, make_user, make_router, make_plan, generate, rows_read):
    router_sim, router, codes = _router_with_vouchers(app, sim, make_user, make_router, make_plan, generate, 300)
    used = codes[0]
    assert router_sim.login(used) is None
    time.sleep(2.1)
    _sync(app, router.id)
    online = {str(row.get("user")) for row in router_sim.state.rows("/ip/hotspot/active")}
    assert [code for code in rows_read if code.startswith("UP")] == [used]  # 1 of our 300 stored users: the one online
    # Anything else read is a user online on the shared simulator (another test's device), never a stored-only one.
    assert set(rows_read) <= online
    assert _state(app, used) == VoucherState.active

    _kick(router_sim, used)
    time.sleep(0.2)
    rows_read.clear()
    _sync(app, router.id)
    assert rows_read == [used]  # just went offline: its final counters are read once more
    with app.app_context():
        voucher = _db.session.scalar(select(Voucher).where(Voucher.code == used))
        assert voucher.uptime_seconds >= 1

    rows_read.clear()
    _sync(app, router.id)
    assert rows_read == []  # nobody online, nobody just gone: nothing is read but the session list

    rows_read.clear()
    _sync(app, router.id, sweep=True)
    # The sweep reads users with some uptime, not the 299 never used (users other tests left on the shared
    # simulated router with uptime are read too, rightly: only this batch's codes are counted).
    ours = set(codes)
    assert [code for code in rows_read if code in ours] == [used]


def test_a_first_session_that_fell_between_two_polls_is_caught_by_the_sweep(
        app, sim, make_user, make_router, make_plan, generate):
    router_sim, router, codes = _router_with_vouchers(app, sim, make_user, make_router, make_plan, generate, 3, n=1,
                                                      validity="1h")
    short = codes[1]
    assert router_sim.login(short) is None
    time.sleep(2.1)  # the simulator's clock may lag a little; a whole second of uptime must be on the counter
    _kick(router_sim, short)  # logged in and out between two polls
    _sync(app, router.id)
    assert _state(app, short) == VoucherState.unused  # a light poll cannot know
    _sync(app, router.id, sweep=True)
    with app.app_context():
        voucher = _db.session.scalar(select(Voucher).where(Voucher.code == short))
        assert voucher.state == VoucherState.active and voucher.first_login_at is not None
        assert (voucher.expires_at - voucher.first_login_at).total_seconds() == 3600
    assert {_state(app, c) for c in (codes[0], codes[2])} == {VoucherState.unused}


def test_one_absurd_voucher_does_not_stop_usage_tracking_for_its_router(
        app, sim, make_user, make_router, make_plan, generate, auth):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("MariaDB's INT column refuses such a validity when the extension is saved")
    router_sim, router, codes = _router_with_vouchers(app, sim, make_user, make_router, make_plan, generate, 3, n=2,
                                                      validity="1d", time_quota="2s")
    good, bad, other = codes
    with app.app_context():  # what an extension by an absurd value stores on SQLite
        _db.session.scalar(select(Voucher).where(Voucher.code == bad)).validity_seconds = 10**15
        _db.session.commit()
    for code in codes:
        assert router_sim.login(code) is None
    time.sleep(2.6)  # the router cuts every session at the 2 s quota
    _sync(app, router.id, sweep=True)
    run_worker(app)  # the retirements queued by the poll

    for code in (good, other):  # first login and quota exhaustion still enforced for the rest of the router
        assert _state(app, code) == VoucherState.exhausted
        assert code not in {r["name"] for r in router_sim.state.rows("/ip/hotspot/user")}
    assert _state(app, bad) == VoucherState.unused
    with app.app_context():
        bad_id = _db.session.scalar(select(Voucher.id).where(Voucher.code == bad))
        assert list(_db.session.scalars(select(VoucherEvent).where(VoucherEvent.voucher_id == bad_id))) == []

    auth.login_as("operator")
    page = auth.client.get("/monitoring/").get_data(as_text=True)
    assert "Skipped rows" in page and bad in page and "usage poll" in page
    _sync(app, router.id, sweep=True)  # failing again updates the entry, it does not add one
    page = auth.client.get("/monitoring/").get_data(as_text=True)
    assert page.count(f"voucher {bad} ") == 1


def test_the_expiry_sweep_expires_the_others_when_one_voucher_fails(app, make_user, make_router, make_plan, generate,
                                                                     monkeypatch):
    from datetime import timedelta

    from isp.jobs.vouchers import expire_vouchers
    from isp.models.base import utcnow
    from isp.services import job_problems, voucher_lifecycle

    admin = make_user("admin")
    router = make_router(None, mode="radius")  # no router I/O: only the expiry bookkeeping
    plan = make_plan([router.id])
    codes = _codes(app, generate(admin.id, plan.id, 3))
    with app.app_context():
        for voucher in _db.session.scalars(select(Voucher).where(Voucher.code.in_(codes))):
            voucher.state, voucher.expires_at = VoucherState.active, utcnow() - timedelta(seconds=5)
        _db.session.commit()
    original = voucher_lifecycle.retire

    def retire(vouchers, priority, action=None):
        if any(v.code == codes[1] for v in vouchers):
            raise ValueError("cannot retire this one")
        return original(vouchers, priority, action)

    monkeypatch.setattr(voucher_lifecycle, "retire", retire)
    with app.app_context():
        assert expire_vouchers() == 2
        problems = job_problems.recent()
    assert [_state(app, c) for c in codes] == [VoucherState.expired, VoucherState.active, VoucherState.expired]
    assert [(p["job"], p["subject"].split()[1]) for p in problems] == [("expiry sweep", codes[1])]
    assert "cannot retire this one" in problems[0]["error"]
