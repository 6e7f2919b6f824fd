"""Against the real FreeRADIUS: accounting it writes is rolled up and shown; a stale row blocks until cleanup."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, update

from isp.extensions import db
from isp.jobs import radius_sessions as jobs
from isp.radius.models import RadAcct, RadCheck, RadGroupCheck, RadUserGroup
from tests.radius_sessions.conftest import naive

PASSWORD = "Blue-Kettle-42"


@pytest.fixture
def radius(freeradius, app, world):
    """The running server answering for 127.0.0.1, which is also our radius router's tunnel address here."""
    from isp.models import Router

    with app.app_context():
        db.session.execute(update(Router).where(Router.id == world.router_id).values(tunnel_address="127.0.0.1"))
        for model in (RadCheck, RadGroupCheck, RadUserGroup):
            db.session.execute(delete(model))
        db.session.commit()
    yield freeradius
    with app.app_context():
        for model in (RadCheck, RadGroupCheck, RadUserGroup):
            db.session.execute(delete(model))
        db.session.commit()


def _subscriber(app, name: str) -> None:
    """The rows a writer gives a subscriber on a Simultaneous-Use := 1 plan."""
    with app.app_context():
        db.session.add_all([RadGroupCheck(groupname="single", attribute="Simultaneous-Use", op=":=", value="1"),
                            RadCheck(username=name, attribute="Cleartext-Password", op=":=", value=PASSWORD),
                            RadUserGroup(username=name, groupname="single", priority=1)])
        db.session.commit()


def _login(radius, name: str) -> str:
    return radius.radclient({"User-Name": name, "User-Password": PASSWORD, "NAS-IP-Address": "127.0.0.1"})[0]


def _acct(radius, name: str, status: str, session: str, **extra) -> str:
    return radius.radclient({"User-Name": name, "Acct-Status-Type": status, "Acct-Session-Id": session,
                             "NAS-IP-Address": "127.0.0.1", "NAS-Port": 7, "Framed-IP-Address": "10.5.0.9", **extra},
                            kind="acct")[0]


def test_a_stale_session_blocks_simultaneous_use_until_cleanup_closes_it(app, radius, auth, make_sub):
    make_sub("simu", password=PASSWORD)
    _subscriber(app, "simu")
    assert _login(radius, "simu") == "Access-Accept", radius.log()
    assert _acct(radius, "simu", "Start", "lost-1") == "Accounting-Response"
    with app.app_context():  # the router died 20 minutes ago without a Stop
        gone = naive(datetime.now(UTC) - timedelta(minutes=20))
        db.session.execute(update(RadAcct).where(RadAcct.username == "simu").values(
            acctstarttime=gone - timedelta(minutes=5), acctupdatetime=gone, acctinterval=300))
        db.session.commit()

    assert _login(radius, "simu") == "Access-Reject"  # the stale row holds the only slot

    with app.app_context():
        assert jobs.cleanup() == "stale 1, reloaded 0"
    assert _login(radius, "simu") == "Access-Accept", radius.log()

    auth.login_as("operator")
    html = auth.client.get("/sessions/failures").get_data(as_text=True)
    assert re.search(r"<code>simu</code></td>\s*<td data-label=\"Reason\" data-test=\"reason\">"
                     r"already online \(Simultaneous-Use\)</td>", html), html


def test_accounting_from_the_server_is_rolled_up_and_shown(app, radius, auth, make_sub):
    sub = make_sub("acctuser", password=PASSWORD)
    _subscriber(app, "acctuser")
    assert _acct(radius, "acctuser", "Start", "s-1", **{"Calling-Station-Id": "AA:BB:CC:00:11:22"}) == "Accounting-Response"
    assert _acct(radius, "acctuser", "Interim-Update", "s-1", **{
        "Acct-Session-Time": 60, "Acct-Input-Octets": 1500, "Acct-Output-Octets": 9000,
        "Acct-Output-Gigawords": 1}) == "Accounting-Response"
    with app.app_context():
        jobs.rollup()
    auth.login_as("operator")

    online = auth.client.get("/sessions/").get_data(as_text=True)
    assert "<code>acctuser</code>" in online and "AA:BB:CC:00:11:22" in online and "rad-1" in online

    assert _acct(radius, "acctuser", "Interim-Update", "s-1", **{
        "Acct-Session-Time": 120, "Acct-Input-Octets": 3000, "Acct-Output-Octets": 9000,
        "Acct-Output-Gigawords": 2}) == "Accounting-Response"
    with app.app_context():
        jobs.rollup()
        jobs.rollup()  # nothing new: counts nothing
    page = auth.client.get(f"/customers/{sub.customer_id}").get_data(as_text=True)
    assert 'data-test="current-session"' in page and "10.5.0.9" in page
    assert "8.0 GiB in all" in page  # 3,000 up + 2 × 2^32 + 9,000 down, counted once


def test_accounting_on_from_the_router_closes_its_open_sessions(app, radius, make_sub):
    """The server's accounting-on query closes the NAS's open rows; the rollup then counts their last counters once."""
    sub = make_sub("rebooted", password=PASSWORD)
    _subscriber(app, "rebooted")
    assert _acct(radius, "rebooted", "Start", "r-1") == "Accounting-Response"
    assert _acct(radius, "rebooted", "Interim-Update", "r-1", **{"Acct-Session-Time": 60, "Acct-Input-Octets": 700,
                                                                 "Acct-Output-Octets": 900}) == "Accounting-Response"
    with app.app_context():
        jobs.rollup()
    assert _login(radius, "rebooted") == "Access-Reject"  # Simultaneous-Use := 1, one session open

    code, _ = radius.radclient({"Acct-Status-Type": "Accounting-On", "NAS-IP-Address": "127.0.0.1",
                                "Acct-Session-Id": "on-1"}, kind="acct")
    assert code == "Accounting-Response"
    with app.app_context():
        row = db.session.scalars(db.select(RadAcct).where(RadAcct.username == "rebooted")).one()
        assert row.acctstoptime is not None and row.acctterminatecause == "NAS-Reboot"
        assert jobs.cleanup() == "stale 0, reloaded 0"  # nothing left for our cleanup
        jobs.rollup()
        from isp.models import RadiusSessionCounter, Subscription

        assert db.session.get(RadiusSessionCounter, row.radacctid).open is False
        assert db.session.get(Subscription, sub.id).period_bytes == 1_600
    assert _login(radius, "rebooted") == "Access-Accept", radius.log()
