"""Push under faults, first login, expiry and quota exhaustion, enforced by our jobs against the simulator."""
import time
from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from isp.extensions import db as _db
from isp.models import Voucher, VoucherBatch, VoucherEvent, VoucherState
from isp.models.base import utcnow
from isp.services import vouchers
from tests.conftest import run_worker


def _codes(app, batch_id):
    with app.app_context():
        return list(_db.session.scalars(select(Voucher.code).where(Voucher.batch_id == batch_id).order_by(Voucher.id)))


def _voucher(app, code):
    with app.app_context():
        voucher = _db.session.scalar(select(Voucher).where(Voucher.code == code))
        events = [(e.from_state, e.to_state) for e in _db.session.scalars(
            select(VoucherEvent).where(VoucherEvent.voucher_id == voucher.id).order_by(VoucherEvent.id))]
        _db.session.expunge(voucher)
        return voucher, events


def _poll(app):
    """What the clock does every few seconds: queue usage reads, then expire what is due."""
    from isp.jobs.vouchers import expire_vouchers, poll_usage_all

    with app.app_context():
        poll_usage_all()
    run_worker(app)
    with app.app_context():
        expire_vouchers()
    run_worker(app)


def _progress(app, batch_id):
    with app.app_context():
        return vouchers.batch_progress(_db.session.get(VoucherBatch, batch_id))


def test_chunked_push_survives_a_router_fault_mid_batch_and_lands_exactly_once(app, sim, make_user, make_router, make_plan, generate):
    app.config["BULK_CHUNK"] = 100
    admin = make_user("admin")
    router = make_router(sim.routers[1])
    plan = make_plan([router.id])
    batch_id = generate(admin.id, plan.id, 1000, prefix="F", length=8)
    sim.routers[1].faults.update(drop_mid_reply=0.08)  # connections die half way through replies
    run_worker(app, rounds=3)
    sim.routers[1].faults.update(drop_mid_reply=0.0)
    progress = _progress(app, batch_id)
    if progress["pending"] or progress["failed"]:
        run_worker(app)  # retries after the fault cleared
        with app.app_context():
            vouchers.retry_failed(_db.session.get(VoucherBatch, batch_id), None)
            _db.session.commit()
        run_worker(app)
    names = Counter(r["name"] for r in sim.routers[1].state.rows("/ip/hotspot/user") if r["name"].startswith("F"))
    assert set(names) == set(_codes(app, batch_id)) and set(names.values()) == {1}
    assert _progress(app, batch_id) | {"retrying": 0} == {"total": 1000, "pushed": 1000, "failed": 0, "pending": 0,
                                                         "retrying": 0, "percent": 100, "finished": True}


def test_first_login_starts_validity_and_expiry_kicks_the_session(app, sim, make_user, make_router, make_plan, generate):
    admin = make_user("admin")
    router_sim = sim.routers[0]
    router = make_router(router_sim)
    plan = make_plan([router.id], validity="1h")
    batch_id = generate(admin.id, plan.id, 3)
    run_worker(app)
    used, idle, _ = _codes(app, batch_id)
    assert router_sim.login(used) is None
    deadline = time.monotonic() + 10  # the simulator's clock must count a second of uptime first (slower under load)
    while True:
        time.sleep(1.1)
        _poll(app)
        voucher, events = _voucher(app, used)
        if voucher.state == VoucherState.active or time.monotonic() > deadline:
            break
    assert voucher.state == VoucherState.active and events == [("unused", "active")]
    assert voucher.expires_at - voucher.first_login_at == timedelta(hours=1)
    # First login is read back from the session's uptime: at most a poll before now, never after the login.
    assert timedelta(0) <= utcnow() - voucher.first_login_at < timedelta(seconds=30)
    assert _voucher(app, idle)[0].state == VoucherState.unused
    # Accelerated time: the hour is over.
    with app.app_context():
        _db.session.scalar(select(Voucher).where(Voucher.code == used)).expires_at = utcnow() - timedelta(seconds=1)
        _db.session.commit()
    _poll(app)
    voucher, events = _voucher(app, used)
    assert voucher.state == VoucherState.expired and events[-1] == ("active", "expired")
    assert used not in {r["user"] for r in router_sim.state.rows("/ip/hotspot/active")}  # kicked
    assert used not in {r["name"] for r in router_sim.state.rows("/ip/hotspot/user")}  # removed (the default action)
    assert idle in {r["name"] for r in router_sim.state.rows("/ip/hotspot/user")}  # an unused voucher never expires


def test_router_date_formats_do_not_matter_durations_are_parsed_by_unit():
    from isp.units import router_duration

    assert router_duration("1w2d3h4m5s") == 788645 and router_duration("01:22:53") == 4973
    assert router_duration("2d01:00:00") == 176400 and router_duration("") == 0 and router_duration("Jul/12/2023") == 0


def test_time_quota_exhaustion_retires_the_voucher(app, sim, make_user, make_router, make_plan, generate):
    admin = make_user("admin")
    router_sim = sim.routers[2]
    router = make_router(router_sim)
    plan = make_plan([router.id], validity="1d", time_quota="2s")
    batch_id = generate(admin.id, plan.id, 1)
    run_worker(app)
    (code,) = _codes(app, batch_id)
    assert router_sim.state.rows("/ip/hotspot/user")[-1]["limit-uptime"] == "2s"  # the router enforces it too
    assert router_sim.login(code) is None
    time.sleep(2.6)  # the router cuts the session at 2 s of uptime
    _poll(app)
    voucher, events = _voucher(app, code)
    assert voucher.state == VoucherState.exhausted and voucher.uptime_seconds >= 2
    assert events == [("unused", "active"), ("active", "exhausted")]
    assert code not in {r["name"] for r in router_sim.state.rows("/ip/hotspot/user")}


def test_disable_then_enable_follows_on_the_router(app, sim, make_user, make_router, make_plan, generate):
    from isp.models import User
    from isp.services import voucher_lifecycle

    admin = make_user("admin")
    router_sim = sim.routers[0]
    router = make_router(router_sim)
    plan = make_plan([router.id])
    batch_id = generate(admin.id, plan.id, 2)
    run_worker(app)
    code = _codes(app, batch_id)[0]
    assert router_sim.login(code) is None
    for action, disabled in (("disable", "true"), ("enable", "false")):
        with app.app_context():
            chosen = list(_db.session.scalars(select(Voucher).where(Voucher.code == code)))
            voucher_lifecycle.bulk_action(_db.session.get(User, admin.id), action, chosen)
            _db.session.commit()
        run_worker(app)
        row = next(r for r in router_sim.state.rows("/ip/hotspot/user") if r["name"] == code)
        assert row["disabled"] == disabled
        if action == "disable":
            assert code not in {r["user"] for r in router_sim.state.rows("/ip/hotspot/active")}


def test_light_polls_read_only_online_users_and_named_ones(sim):
    import librouteros

    from isp.jobs.vouchers import read_usage
    from tests.conftest import SIM_PASSWORD

    router = sim.routers[2]
    for name in ("LA", "LB", "LC"):
        router.state.add("/ip/hotspot/user", name=name)
    assert router.login("LB") is None
    api = librouteros.connect("127.0.0.1", username="admin", password=SIM_PASSWORD, port=router.port)
    try:
        light = read_usage(api, ["LA"])
        full = read_usage(api)
    finally:
        api.close()
    assert set(light) == {"LA", "LB"} and light["LB"]["online"] and not light["LA"]["online"]
    assert {"LA", "LB", "LC"} <= set(full)
