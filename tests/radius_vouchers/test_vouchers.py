"""Vouchers on a radius-mode router: rows written with the batch, first login from radacct, expiry disconnects."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import event, func, select

from isp.extensions import db as _db
from isp.models import CommandState, Priority, RouterCommand, User, Voucher, VoucherBatch, VoucherState
from isp.models.base import utcnow
from isp.radius import voucher_writers
from isp.radius.models import RadAcct, RadCheck, RadGroupCheck, RadGroupReply, RadReply, RadUserGroup
from isp.services import voucher_lifecycle, vouchers, vouchers_radius
from tests.conftest import run_worker


def _rows(model, **where):
    stmt = select(model)
    for key, value in where.items():
        stmt = stmt.where(getattr(model, key) == value)
    return list(_db.session.scalars(stmt))


def _batch(app, make_user, make_plan, generate, router_id, count, **plan):
    admin = make_user("admin")
    plan = make_plan([router_id], **plan)
    return plan, generate(admin.id, plan.id, count, length=10)


def _count_statements(app):
    counted = []
    with app.app_context():
        engines = {_db.engine, *_db.engines.values()}

    def listen(conn, cursor, statement, *args):
        counted.append(statement)

    for engine in engines:
        event.listen(engine, "before_cursor_execute", listen)
    return counted, lambda: [event.remove(e, "before_cursor_execute", listen) for e in engines]


def test_a_batch_of_1000_writes_its_radius_rows_set_based_and_pushes_nothing(app, radius_router, make_user, make_plan, generate):
    statements, stop = _count_statements(app)
    try:
        plan, batch_id = _batch(app, make_user, make_plan, generate, radius_router.id, 1000, rate_limit="2M/4M",
                                shared_users=2)
    finally:
        stop()
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT") and ("radcheck" in s or "radusergroup" in s)]
    assert len(inserts) <= 4  # multi-row INSERTs, not one per voucher
    with app.app_context():
        codes = {v.code: v.password for v in _rows(Voucher, batch_id=batch_id)}
        passwords = {r.username: r.value for r in _rows(RadCheck, attribute="Cleartext-Password")}
        assert len(codes) == 1000 and passwords == codes
        assert {r.groupname for r in _rows(RadUserGroup)} == {f"isp-vp-{plan.id}"}
        assert _db.session.scalar(select(func.count()).select_from(RadUserGroup)) == 1000
        group = f"isp-vp-{plan.id}"
        assert {(r.attribute, r.op, r.value) for r in _rows(RadGroupReply, groupname=group)} == {
            ("Mikrotik-Rate-Limit", "=", "2M/4M"), ("Session-Timeout", "=", "86400"), ("Acct-Interim-Interval", "=", "300")}
        assert [(r.attribute, r.op, r.value) for r in _rows(RadGroupCheck, groupname=group)] == [("Simultaneous-Use", ":=", "2")]
        assert _db.session.scalar(select(func.count()).select_from(RouterCommand)) == 0  # nothing goes to the router
        progress = vouchers.batch_progress(_db.session.get(VoucherBatch, batch_id))
        assert progress["radius"] and progress["pushed"] == 1000 and progress["missing"] == 0


def test_the_batch_page_says_the_vouchers_are_in_radius_not_on_the_router(app, client, auth, radius_router, make_plan, generate):
    admin = auth.login_as("admin")
    plan = make_plan([radius_router.id])
    batch_id = generate(admin.id, plan.id, 5, length=10)
    html = client.get(f"/vouchers/batches/{batch_id}").get_data(as_text=True)
    assert "5</strong> of 5 live vouchers are in RADIUS" in html
    assert "Every voucher of this batch is on the router" not in html
    assert html.count('data-sync="in RADIUS"') == 5 and "not queued" not in html


def test_a_plan_edit_rewrites_its_group_and_touches_no_voucher_row(app, radius_router, make_user, make_plan, generate):
    from isp.models import HotspotPlan
    from isp.services import plans

    plan, batch_id = _batch(app, make_user, make_plan, generate, radius_router.id, 20, rate_limit="2M/4M")
    with app.app_context():
        before = sorted((r.id, r.username, r.value) for r in _rows(RadCheck))
        row = _db.session.get(HotspotPlan, plan.id)
        plans.update_plan(row, {"name": row.name, "price": "10.00", "reseller_price": "8.00", "validity": "1d",
                                "time_quota": "", "data_quota": "", "rate_limit": "5M/10M", "shared_users": 3,
                                "active": True, "router_ids": [radius_router.id]})
        _db.session.commit()
        group = f"isp-vp-{plan.id}"
        assert {(r.attribute, r.value) for r in _rows(RadGroupReply, groupname=group)} == {
            ("Mikrotik-Rate-Limit", "5M/10M"), ("Session-Timeout", "86400"), ("Acct-Interim-Interval", "300")}
        assert [(r.attribute, r.value) for r in _rows(RadGroupCheck, groupname=group)] == [("Simultaneous-Use", "3")]
        assert sorted((r.id, r.username, r.value) for r in _rows(RadCheck)) == before


def _edit_plan(app, plan_id, router_id, **changes):
    from isp.models import HotspotPlan
    from isp.services import plans

    with app.app_context():
        row = _db.session.get(HotspotPlan, plan_id)
        data = {"name": row.name, "price": "10.00", "reseller_price": "8.00", "validity": "1d", "time_quota": "",
                "data_quota": "", "rate_limit": row.rate_limit, "shared_users": row.shared_users, "active": True,
                "router_ids": [router_id], **changes}
        plans.update_plan(row, data)
        _db.session.commit()


def test_a_new_plan_speed_reaches_the_vouchers_online_as_a_coa(app, radius_router, make_user, make_plan, generate):
    plan, batch_id = _batch(app, make_user, make_plan, generate, radius_router.id, 3, rate_limit="2M/4M")
    with app.app_context():
        online, offline, unused = [v.code for v in _rows(Voucher, batch_id=batch_id)]
    _login(app, online, utcnow() - timedelta(minutes=3), session_id="p-1")
    _login(app, offline, utcnow() - timedelta(minutes=9), session_id="p-2", open_=False)
    _poll(app)
    radius_router.responder.sessions[online] = {"p-1"}
    _edit_plan(app, plan.id, radius_router.id, shared_users=2)  # sharing only: no live session needs a change
    with app.app_context():
        assert not _rows(RouterCommand, operation="radius.coa")
    _edit_plan(app, plan.id, radius_router.id, rate_limit="6M/12M")
    with app.app_context():
        [command] = _rows(RouterCommand, operation="radius.coa")
        assert command.priority == Priority.high
        assert command.payload == {"username": online, "attributes": {"Mikrotik-Rate-Limit": "6M/12M"}}
    run_worker(app)
    [sent] = [r for r in radius_router.responder.received if r["User-Name"] == [online]]
    assert sent["Mikrotik-Rate-Limit"] == ["6M/12M"] and sent["Acct-Session-Id"] == ["p-1"]
    with app.app_context():
        assert _rows(RouterCommand, operation="radius.coa")[0].result["action"] == "changed"
    _edit_plan(app, plan.id, radius_router.id, rate_limit="")  # unlimited now: no CoA can lift a limit
    with app.app_context():
        [lifted] = _rows(RouterCommand, operation="radius.disconnect")
        assert lifted.payload["username"] == online and lifted.priority == Priority.high


def test_quotas_become_max_all_session_and_a_split_total_limit(app, radius_router, make_user, make_plan, generate):
    _, batch_id = _batch(app, make_user, make_plan, generate, radius_router.id, 2, time_quota="2h", data_quota="5G")
    with app.app_context():
        code = _rows(Voucher, batch_id=batch_id)[0].code
        checks = {r.attribute: (r.op, r.value) for r in _rows(RadCheck, username=code)}
        replies = {r.attribute: int(r.value) for r in _rows(RadReply, username=code)}
        batch = _db.session.get(VoucherBatch, batch_id)
    assert checks["Max-All-Session"] == (":=", "7200")
    assert "Expiration" not in checks  # the validity runs from first login, not from printing
    assert replies["Mikrotik-Total-Limit-Gigawords"] * 2**32 + replies["Mikrotik-Total-Limit"] == batch.data_quota_bytes


def _login(app, code, start, session_id="sess-1", open_=True):
    with app.app_context():
        _db.session.add(RadAcct(acctsessionid=session_id, acctuniqueid=f"u-{session_id}-{code}", username=code,
                                nasipaddress="127.0.0.1", framedipaddress="10.5.0.9",
                                acctstarttime=start.astimezone(UTC).replace(tzinfo=None, microsecond=0),
                                acctstoptime=None if open_ else start.replace(tzinfo=None) + timedelta(minutes=1)))
        _db.session.commit()


def _poll(app):
    from isp.jobs.vouchers import poll_usage_all

    with app.app_context():
        poll_usage_all()


def test_first_login_in_radacct_sets_expiry_and_expiration(app, radius_router, make_user, make_plan, generate):
    _, batch_id = _batch(app, make_user, make_plan, generate, radius_router.id, 3, validity="2h")
    with app.app_context():
        used, idle, _ = [v.code for v in _rows(Voucher, batch_id=batch_id)]
    start = (utcnow() - timedelta(minutes=10)).replace(microsecond=0)
    _login(app, used, start)
    _poll(app)
    with app.app_context():
        voucher = _rows(Voucher, code=used)[0]
        assert voucher.state == VoucherState.active
        assert voucher.first_login_at == start and voucher.expires_at == start + timedelta(hours=2)
        [expiration] = _rows(RadCheck, username=used, attribute="Expiration")
        assert (expiration.op, expiration.value) == (":=", f"{voucher.expires_at:%d} {voucher.expires_at:%b %Y %H:%M:%S}")
        assert _rows(Voucher, code=idle)[0].state == VoucherState.unused
        assert not _rows(RadCheck, username=idle, attribute="Expiration")


def test_first_login_is_found_again_when_redis_lost_the_cursor(app, radius_router, make_user, make_plan, generate):
    _, batch_id = _batch(app, make_user, make_plan, generate, radius_router.id, 2)
    _poll(app)  # the cursor is stored
    with app.app_context():
        code = _rows(Voucher, batch_id=batch_id)[0].code
        # Many other sessions then this voucher's: a cursor far behind would still find it, a lost one must too.
        for n in range(5):
            _db.session.add(RadAcct(acctsessionid=f"o{n}", acctuniqueid=f"other-{n}", username=f"someone{n}",
                                    nasipaddress="127.0.0.1", acctstarttime=datetime(2026, 1, 1)))
        _db.session.commit()
        app.config["REDIS_CLIENT"].delete(vouchers_radius.CURSOR_KEY)
    _login(app, code, utcnow() - timedelta(minutes=1), open_=False)
    _poll(app)
    with app.app_context():
        assert _rows(Voucher, code=code)[0].state == VoucherState.active
        assert vouchers_radius.load_cursor() == _db.session.scalar(select(func.max(RadAcct.radacctid)))


def test_an_expired_voucher_loses_its_rows_and_its_session_gets_a_disconnect(app, radius_router, make_user, make_plan, generate):
    _, batch_id = _batch(app, make_user, make_plan, generate, radius_router.id, 2, validity="1h")
    with app.app_context():
        code, other = [v.code for v in _rows(Voucher, batch_id=batch_id)]
    _login(app, code, utcnow() - timedelta(hours=1, seconds=2), session_id="live-1")
    radius_router.responder.sessions[code] = {"live-1"}
    _poll(app)  # first login seen: it expired a moment ago
    from isp.jobs.vouchers import expire_vouchers

    with app.app_context():
        assert expire_vouchers() == 1
        assert _rows(Voucher, code=code)[0].state == VoucherState.expired
        assert not _rows(RadCheck, username=code) and not _rows(RadUserGroup, username=code)
        assert _rows(RadCheck, username=other)  # the unused one still logs in
        [command] = _rows(RouterCommand, operation="radius.disconnect")
        assert command.priority == Priority.critical and command.payload == {"username": code}
    run_worker(app)
    with app.app_context():
        [command] = _rows(RouterCommand, operation="radius.disconnect")
        assert command.state == CommandState.done and command.result["action"] == "disconnected"
    assert radius_router.responder.sessions[code] == set()


def test_deleting_vouchers_removes_their_rows_and_disconnects_only_the_ones_online(app, radius_router, make_user,
                                                                                 make_plan, generate):
    _, batch_id = _batch(app, make_user, make_plan, generate, radius_router.id, 3)
    with app.app_context():
        online, *offline = [v.code for v in _rows(Voucher, batch_id=batch_id)]
    _login(app, online, utcnow(), session_id="del-1")
    with app.app_context():
        admin = _db.session.scalar(select(User).where(User.role == "admin"))
        voucher_lifecycle.bulk_action(admin, "delete", vouchers.selection(admin, batch_id=batch_id))
        _db.session.commit()
        assert _db.session.scalar(select(func.count()).select_from(RadCheck)) == 0
        assert [c.payload["username"] for c in _rows(RouterCommand, operation="radius.disconnect")] == [online]


def test_disable_then_enable_takes_the_rows_out_and_puts_them_back_with_the_expiry(app, radius_router, make_user,
                                                                                 make_plan, generate):
    _, batch_id = _batch(app, make_user, make_plan, generate, radius_router.id, 1, time_quota="1h")
    with app.app_context():
        voucher = _rows(Voucher, batch_id=batch_id)[0]
        code = voucher.code
    _login(app, code, utcnow() - timedelta(minutes=5), open_=False)
    _poll(app)
    with app.app_context():
        admin = _db.session.scalar(select(User).where(User.role == "admin"))
        voucher_lifecycle.bulk_action(admin, "disable", vouchers.selection(admin, batch_id=batch_id))
        _db.session.commit()
        assert not _rows(RadCheck, username=code)
        voucher_lifecycle.bulk_action(admin, "enable", vouchers.selection(admin, batch_id=batch_id))
        _db.session.commit()
        voucher = _rows(Voucher, code=code)[0]
        checks = {r.attribute: r.value for r in _rows(RadCheck, username=code)}
        assert voucher.state == VoucherState.active
        assert checks["Cleartext-Password"] == voucher.password and checks["Max-All-Session"] == "3600"
        assert checks["Expiration"] == voucher_writers.expiration(voucher.expires_at)


def test_data_used_over_several_sessions_exhausts_the_voucher_and_disconnects_it(app, radius_router, make_user,
                                                                                make_plan, generate):
    # Mikrotik-Total-Limit bounds one session; the quota spans all of them, so we add radacct up ourselves.
    _, batch_id = _batch(app, make_user, make_plan, generate, radius_router.id, 2, data_quota="100M")
    with app.app_context():
        code, other = [v.code for v in _rows(Voucher, batch_id=batch_id)]
        start = (utcnow() - timedelta(hours=1)).replace(tzinfo=None, microsecond=0)
        _db.session.add_all([
            RadAcct(acctsessionid="q-1", acctuniqueid="q-1", username=code, nasipaddress="127.0.0.1", acctstarttime=start,
                    acctstoptime=start + timedelta(minutes=20), acctsessiontime=1200, acctinputoctets=10_000_000,
                    acctoutputoctets=50_000_000),
            RadAcct(acctsessionid="q-2", acctuniqueid="q-2", username=code, nasipaddress="127.0.0.1",
                    acctstarttime=start + timedelta(minutes=30), acctsessiontime=600, acctinputoctets=5_000_000,
                    acctoutputoctets=20_000_000),
            RadAcct(acctsessionid="q-3", acctuniqueid="q-3", username=other, nasipaddress="127.0.0.1",
                    acctstarttime=start, acctsessiontime=60, acctinputoctets=1_000, acctoutputoctets=2_000)])
        _db.session.commit()
    _poll(app)
    with app.app_context():
        voucher = _rows(Voucher, code=code)[0]
        assert voucher.state == VoucherState.active and voucher.bytes_total == 85_000_000 and voucher.uptime_seconds == 1800
        assert _rows(RadCheck, username=code)
        session = _db.session.scalar(select(RadAcct).where(RadAcct.acctsessionid == "q-2"))
        session.acctinputoctets, session.acctoutputoctets = 10_000_000, 40_000_000  # an interim update: 110 MB in all
        _db.session.commit()
    radius_router.responder.sessions[code] = {"q-2"}
    _poll(app)
    with app.app_context():
        voucher = _rows(Voucher, code=code)[0]
        assert voucher.state == VoucherState.exhausted and voucher.bytes_total == 110_000_000
        assert not _rows(RadCheck, username=code)  # FreeRADIUS refuses it from now on
        assert _rows(Voucher, code=other)[0].state == VoucherState.active  # the other one is well within its quota
    run_worker(app)
    assert radius_router.responder.sessions[code] == set()  # and its live session was disconnected


def test_a_mass_expiry_queues_chunk_jobs_whose_packets_are_all_acknowledged(app, radius_router, make_user, make_plan,
                                                                           generate):
    from isp.jobs.vouchers import expire_vouchers

    app.config["BULK_CHUNK"] = 10
    _, batch_id = _batch(app, make_user, make_plan, generate, radius_router.id, 30, validity="1h")
    with app.app_context():
        codes = [v.code for v in _rows(Voucher, batch_id=batch_id)]
        start = (utcnow() - timedelta(hours=1, minutes=1)).replace(tzinfo=None, microsecond=0)
        _db.session.add_all([RadAcct(acctsessionid=f"m-{n}", acctuniqueid=f"m-{n}", username=code, nasipaddress="127.0.0.1",
                                     acctstarttime=start) for n, code in enumerate(codes[:25])])  # 25 online, 5 never used
        _db.session.commit()
    radius_router.responder.sessions.update({code: {f"m-{n}"} for n, code in enumerate(codes[:25])})
    _poll(app)
    with app.app_context():
        assert expire_vouchers() == 25
        commands = _rows(RouterCommand, operation="radius.disconnect")
        assert len(commands) == 25 and {c.priority for c in commands} == {Priority.critical}
        assert len({c.job_id for c in commands}) == 3  # three chunk jobs of ten, not 25 single jobs
    run_worker(app)
    with app.app_context():
        assert {(c.state, c.result["action"]) for c in _rows(RouterCommand, operation="radius.disconnect")} == {
            (CommandState.done, "disconnected")}
    assert all(not radius_router.responder.sessions[code] for code in codes[:25])


def test_extending_a_live_voucher_moves_its_expiration_in_radius(app, radius_router, make_user, make_plan, generate):
    _, batch_id = _batch(app, make_user, make_plan, generate, radius_router.id, 1, validity="1h")
    with app.app_context():
        code = _rows(Voucher, batch_id=batch_id)[0].code
    _login(app, code, utcnow() - timedelta(minutes=5))
    _poll(app)
    with app.app_context():
        admin = _db.session.scalar(select(User).where(User.role == "admin"))
        voucher_lifecycle.bulk_action(admin, "extend", vouchers.selection(admin, batch_id=batch_id), extend_seconds=86400)
        _db.session.commit()
        voucher = _rows(Voucher, code=code)[0]
        assert voucher.expires_at - voucher.first_login_at == timedelta(hours=25)
        assert [r.value for r in _rows(RadCheck, username=code, attribute="Expiration")] == [
            voucher_writers.expiration(voucher.expires_at)]


def test_a_code_already_a_radius_user_is_drawn_again(app, radius_router, make_user, make_plan, generate, monkeypatch):
    from isp.services import codes

    with app.app_context():  # a subscriber's login, written by the subscription writers
        _db.session.add(RadCheck(username="SUBSCRIBER9", attribute="Cleartext-Password", op=":=", value="theirs"))
        _db.session.commit()
    drawn = iter(["SUBSCRIBER9", "FRESHCODE01", "FRESHCODE02", "FRESHCODE03"])
    monkeypatch.setattr(codes, "random_code", lambda length, prefix="": next(drawn))
    _, batch_id = _batch(app, make_user, make_plan, generate, radius_router.id, 2)
    with app.app_context():
        assert sorted(v.code for v in _rows(Voucher, batch_id=batch_id)) == ["FRESHCODE01", "FRESHCODE02"]
        assert [r.value for r in _rows(RadCheck, username="SUBSCRIBER9")] == ["theirs"]


def test_a_cursor_beyond_radacct_after_it_was_emptied_is_read_again(app, radius_router, make_user, make_plan, generate):
    _, batch_id = _batch(app, make_user, make_plan, generate, radius_router.id, 1)
    with app.app_context():
        code = _rows(Voucher, batch_id=batch_id)[0].code
        vouchers_radius.save_cursor(1_000_000)  # read that far before radacct was truncated
    _login(app, code, utcnow() - timedelta(minutes=1))
    _poll(app)
    with app.app_context():
        assert _rows(Voucher, code=code)[0].state == VoucherState.active
