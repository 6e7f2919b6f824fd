"""Stale-session cleanup: a silent open row is closed so Simultaneous-Use lets the user back in; NAS reloads close rows."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, insert, or_, select

from isp.extensions import db
from isp.jobs import radius_sessions as jobs
from isp.radius.models import NasReload, RadAcct
from tests.radius_sessions.conftest import TUNNEL, naive


# FreeRADIUS's stock simul_count_query (mods-config/sql/main/mysql/queries.conf), what Simultaneous-Use counts:
# open rows of the user that started after their NAS's last reload.
def _simul_count(name: str) -> object:
    acct, reload = RadAcct.__table__, NasReload.__table__
    return select(func.count()).select_from(acct.outerjoin(reload, reload.c.nasipaddress == acct.c.nasipaddress)).where(
        acct.c.username == name, acct.c.acctstoptime.is_(None),
        or_(acct.c.acctstarttime > reload.c.reloadtime, reload.c.reloadtime.is_(None)))


def _row(app, rid: int) -> RadAcct:
    with app.app_context():
        row = db.session.get(RadAcct, rid)
        db.session.expunge(row)
        return row


def _simultaneous(app, name: str) -> int:
    with app.app_context():
        return db.session.scalar(_simul_count(name))


def test_a_session_silent_for_three_intervals_is_closed_at_its_last_update(app, acct):
    now = datetime.now(UTC).replace(microsecond=0)  # DATETIME keeps whole seconds on MariaDB
    heard = naive(now - timedelta(minutes=16))
    silent = acct("frank", acctupdatetime=heard, acctinterval=300)
    alive = acct("grace", acctupdatetime=naive(now - timedelta(minutes=14)), acctinterval=300)
    no_interval = acct("heidi", acctupdatetime=naive(now - timedelta(minutes=16)), acctinterval=None)
    slow_nas = acct("ivan", acctupdatetime=naive(now - timedelta(minutes=16)), acctinterval=600)
    assert _simultaneous(app, "frank") == 1  # a Simultaneous-Use := 1 user would be refused now

    with app.app_context():
        assert jobs.cleanup() == "stale 2, reloaded 0"

    closed = _row(app, silent)
    assert closed.acctterminatecause == "Stale-Session"
    assert closed.acctstoptime == heard  # stopped when it was last heard of, not now
    assert closed.acctupdatetime >= naive(now)  # and closed now: until now it held a Simultaneous-Use slot
    assert _row(app, no_interval).acctstoptime is not None  # the default interval of 300 s
    assert _row(app, alive).acctstoptime is None
    assert _row(app, slow_nas).acctstoptime is None  # 3 × 600 s have not passed
    assert _simultaneous(app, "frank") == 0  # the user can log in again
    with app.app_context():
        assert jobs.cleanup() == "stale 0, reloaded 0"


def test_accounting_on_from_a_router_closes_its_older_sessions(app, acct):
    now = datetime.now(UTC).replace(microsecond=0)
    before = acct("judy", acctstarttime=naive(now - timedelta(minutes=30)), acctupdatetime=naive(now - timedelta(minutes=1)))
    after = acct("karl", acctstarttime=naive(now - timedelta(minutes=2)), acctupdatetime=naive(now - timedelta(minutes=1)))
    elsewhere = acct("leo", nasipaddress="10.100.0.99", acctstarttime=naive(now - timedelta(minutes=30)),
                     acctupdatetime=naive(now - timedelta(minutes=1)))
    reload_at = naive(now - timedelta(minutes=10))
    with app.app_context():  # FreeRADIUS's "lightweight" Accounting-On/Off records the reload only
        db.session.execute(insert(NasReload.__table__).values(nasipaddress=TUNNEL, reloadtime=reload_at))
        db.session.commit()
        assert jobs.cleanup() == "stale 0, reloaded 1"
    closed = _row(app, before)
    assert (closed.acctstoptime, closed.acctterminatecause) == (reload_at, "NAS-Reboot")
    assert _row(app, after).acctstoptime is None
    assert _row(app, elsewhere).acctstoptime is None
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RadAcct).where(RadAcct.acctstoptime.is_(None))) == 2


def test_a_row_without_interim_updates_waits_three_of_its_plans_intervals(app, acct):
    from isp.radius.models import RadGroupReply, RadUserGroup

    now = datetime.now(UTC)
    with app.app_context():
        db.session.add_all([RadGroupReply(groupname="slow-plan", attribute="Acct-Interim-Interval", op=":=", value="600"),
                            RadUserGroup(username="mallory", groupname="slow-plan", priority=1)])
        db.session.commit()
    planned = acct("mallory", acctstarttime=naive(now - timedelta(minutes=20)), acctupdatetime=None, acctinterval=None)
    defaulted = acct("nina", acctstarttime=naive(now - timedelta(minutes=20)), acctupdatetime=None, acctinterval=None)
    try:
        with app.app_context():
            assert jobs.cleanup() == "stale 1, reloaded 0"
        assert _row(app, planned).acctstoptime is None  # 20 min < 3 × 600 s
        assert _row(app, defaulted).acctterminatecause == "Stale-Session"  # 20 min > 3 × 300 s
    finally:
        with app.app_context():
            db.session.execute(delete(RadGroupReply))
            db.session.execute(delete(RadUserGroup))
            db.session.commit()
