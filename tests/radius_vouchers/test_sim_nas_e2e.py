"""The whole path with the simulated NAS and the real FreeRADIUS: a voucher logs in through the router's RADIUS,
its first login comes from the accounting the router sent, and at expiry the worker's Disconnect ends it."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from isp import crypto
from isp.extensions import db as _db
from isp.models import CommandState, Router, RouterCommand, Voucher, VoucherState
from isp.models.base import utcnow
from isp.radius.models import Nas, RadAcct
from tests.conftest import SIM_PASSWORD, run_worker

NAS_ADDRESS = "127.0.0.41"  # the router's tunnel address stand-in (its /radius src-address)
NAS_SECRET = "Voucher-NAS-secret-4d1"


@pytest.fixture
def nas_router(app, freeradius, make_router, radius_db):
    """A simulated router in radius mode pointed at the private FreeRADIUS, and its panel record (API for the
    fallback, tunnel address and sealed secret for the packets)."""
    from routeros_sim import Fleet, RouterConfig

    fleet = Fleet([RouterConfig(name="v-nas", identity="v-nas", password=SIM_PASSWORD, tls_port=None)], speed=0)
    sim = fleet["v-nas"]
    sim.use_radius(freeradius.host, NAS_SECRET, auth_port=freeradius.auth_port, acct_port=freeradius.acct_port,
                   src_address=NAS_ADDRESS, timeout="2s", interim="5m")
    with fleet:
        router = make_router(sim, mode="radius", radius_incoming_port=sim.radius_incoming_port)
        with app.app_context():
            row = _db.session.get(Router, router.id)
            row.tunnel_address, row.radius_secret_encrypted = NAS_ADDRESS, crypto.encrypt(NAS_SECRET)
            _db.session.add(Nas(nasname=NAS_ADDRESS, shortname="v-nas", type="other", secret=NAS_SECRET))
            _db.session.commit()
        yield router.id, sim


def _open_rows(app, code, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        with app.app_context():
            rows = list(_db.session.scalars(select(RadAcct).where(RadAcct.username == code, RadAcct.acctstoptime.is_(None))))
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def _closed(app, code, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            if _db.session.scalar(select(RadAcct.radacctid).where(RadAcct.username == code,
                                                                  RadAcct.acctstoptime.is_(None))) is None:
                return True
        time.sleep(0.1)
    return False


def test_voucher_logs_in_through_the_router_and_is_disconnected_at_expiry(app, nas_router, make_user, make_plan,
                                                                          generate, freeradius):
    from isp.jobs.vouchers import expire_vouchers, poll_usage_all

    router_id, sim = nas_router
    admin = make_user("admin")
    plan = make_plan([router_id], rate_limit="4M/8M", validity="1h")
    batch_id = generate(admin.id, plan.id, 1, length=10)
    with app.app_context():
        voucher = _db.session.scalar(select(Voucher).where(Voucher.batch_id == batch_id))
        code, password = voucher.code, voucher.password

    login = sim.radius_login(code, password)
    assert login["accepted"], (login, freeradius.log())
    assert login["reply"]["Mikrotik-Rate-Limit"] == ["4M/8M"]
    [row] = _open_rows(app, code)  # the router's Accounting-Start, written by FreeRADIUS
    assert row.nasipaddress == NAS_ADDRESS

    with app.app_context():
        poll_usage_all()
        voucher = _db.session.scalar(select(Voucher).where(Voucher.code == code))
        assert voucher.state == VoucherState.active and voucher.expires_at - voucher.first_login_at == timedelta(hours=1)
        voucher.expires_at = utcnow() - timedelta(seconds=1)  # an hour later
        _db.session.commit()
        assert expire_vouchers() == 1
    run_worker(app)

    with app.app_context():
        command = _db.session.scalar(select(RouterCommand).where(RouterCommand.operation == "radius.disconnect"))
        assert command.state == CommandState.done and command.result["action"] == "disconnected", command.result
        assert command.result["answers"][0]["session"] == row.acctsessionid and "fallback" not in command.result
    assert code not in [a["user"] for a in sim.state.rows("/ip/hotspot/active")]
    assert _closed(app, code)  # the router's Stop reached radacct: the session is over for FreeRADIUS too
    again = sim.radius_login(code, password)
    assert not again["accepted"] and again["reason"] == "rejected by the RADIUS server"
