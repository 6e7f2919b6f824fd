"""The real FreeRADIUS answers from the rows we write: groups, rejects, expiry, Simultaneous-Use, accounting, CHAP."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from isp.extensions import db
from isp.radius.freeradius_conf import EXPIRATION_FORMAT
from isp.radius.models import RadAcct, RadCheck, RadGroupCheck, RadGroupReply, RadPostAuth, RadUserGroup

PASSWORD = "Blue-Kettle-42"


def user(name: str, group: str | None = None, password: str = PASSWORD, *checks: RadCheck) -> list:
    """The rows of a subscriber: password, optional group, extra check items."""
    out = [RadCheck(username=name, attribute="Cleartext-Password", op=":=", value=password), *checks]
    if group:
        out.append(RadUserGroup(username=name, groupname=group, priority=1))
    return out


def login(radius, name: str, password: str = PASSWORD, **extra) -> tuple[str, dict]:
    return radius.radclient({"User-Name": name, "User-Password": password, "NAS-IP-Address": "127.0.0.1", **extra})


def acct(radius, name: str, status: str, session: str, **extra) -> tuple[str, dict]:
    return radius.radclient({"User-Name": name, "Acct-Status-Type": status, "Acct-Session-Id": session,
                             "NAS-IP-Address": "127.0.0.1", "NAS-Port": 7, "Framed-IP-Address": "10.5.0.9", **extra},
                            kind="acct")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def test_accept_carries_the_groups_rate_limit(radius, rows):
    rows(RadGroupReply(groupname="plan-10m", attribute="Mikrotik-Rate-Limit", op=":=", value="5M/10M 8M/16M"),
         RadGroupReply(groupname="plan-10m", attribute="Acct-Interim-Interval", op=":=", value="60"),
         *user("alice", "plan-10m"))

    code, reply = login(radius, "alice")

    assert code == "Access-Accept", radius.log()
    assert reply["Mikrotik-Rate-Limit"] == "5M/10M 8M/16M"
    assert reply["Acct-Interim-Interval"] == 60
    assert login(radius, "alice", "wrong-password")[0] == "Access-Reject"
    assert login(radius, "nobody")[0] == "Access-Reject"


def test_a_group_with_auth_type_reject_refuses_the_right_password(radius, rows):
    rows(RadGroupCheck(groupname="suspended", attribute="Auth-Type", op=":=", value="Reject"),
         RadGroupReply(groupname="plan-a", attribute="Mikrotik-Rate-Limit", op=":=", value="1M/2M"),
         *user("bob", "suspended"), RadUserGroup(username="bob", groupname="plan-a", priority=2))

    assert login(radius, "bob")[0] == "Access-Reject"


def test_expiration_in_utc_rejects_after_and_limits_the_session_before(radius, rows):
    now = datetime.now(UTC)
    past = (now - timedelta(minutes=2)).strftime(EXPIRATION_FORMAT)
    future = (now + timedelta(hours=1)).strftime(EXPIRATION_FORMAT)
    rows(*user("carol", None, PASSWORD, RadCheck(username="carol", attribute="Expiration", op=":=", value=past)),
         *user("dave", None, PASSWORD, RadCheck(username="dave", attribute="Expiration", op=":=", value=future)))

    assert login(radius, "carol")[0] == "Access-Reject"
    code, reply = login(radius, "dave")
    assert code == "Access-Accept", radius.log()
    # An hour from now, read as UTC by the server: a zone mix-up would be off by whole hours.
    assert 3600 - 30 <= reply["Session-Timeout"] <= 3600


def test_simultaneous_use_counts_open_accounting_sessions(radius, rows):
    rows(RadGroupCheck(groupname="single", attribute="Simultaneous-Use", op=":=", value="1"), *user("erin", "single"))

    assert login(radius, "erin")[0] == "Access-Accept"
    assert acct(radius, "erin", "Start", "sess-1")[0] == "Accounting-Response"
    assert login(radius, "erin")[0] == "Access-Reject"
    assert acct(radius, "erin", "Stop", "sess-1", **{"Acct-Session-Time": 30})[0] == "Accounting-Response"
    assert login(radius, "erin")[0] == "Access-Accept"


def test_accounting_start_interim_stop_land_in_radacct_with_counters(radius, rows):
    rows(*user("frank"))
    before = utcnow().replace(microsecond=0)

    acct(radius, "frank", "Start", "s-77", **{"Calling-Station-Id": "AA:BB:CC:00:11:22"})
    started = db.session.scalars(select(RadAcct).where(RadAcct.username == "frank")).one()
    assert started.acctstoptime is None and started.acctsessionid == "s-77"
    assert before - timedelta(seconds=2) <= started.acctstarttime <= utcnow() + timedelta(seconds=2)  # UTC

    acct(radius, "frank", "Interim-Update", "s-77", **{"Acct-Session-Time": 60, "Acct-Input-Octets": 1500,
                                                        "Acct-Output-Octets": 9000, "Acct-Output-Gigawords": 1})
    db.session.expire_all()
    row = db.session.scalars(select(RadAcct).where(RadAcct.username == "frank")).one()
    assert (row.acctsessiontime, row.acctinputoctets, row.acctoutputoctets) == (60, 1500, 2**32 + 9000)

    acct(radius, "frank", "Stop", "s-77", **{"Acct-Session-Time": 125, "Acct-Input-Octets": 4000,
                                              "Acct-Output-Octets": 20000, "Acct-Terminate-Cause": "User-Request"})
    db.session.expire_all()
    row = db.session.scalars(select(RadAcct).where(RadAcct.username == "frank")).one()
    assert row.acctstoptime is not None and row.acctsessiontime == 125
    assert (row.acctinputoctets, row.acctoutputoctets) == (4000, 20000)
    assert row.acctterminatecause == "User-Request" and row.callingstationid == "AA:BB:CC:00:11:22"
    assert row.framedipaddress == "10.5.0.9" and row.nasipaddress == "127.0.0.1"


def test_chap_login(radius, rows):
    rows(*user("gina"))

    code, _ = radius.radclient({"User-Name": "gina", **radius.chap(PASSWORD)})
    assert code == "Access-Accept", radius.log()
    assert radius.radclient({"User-Name": "gina", **radius.chap("not-it")})[0] == "Access-Reject"


def test_post_auth_rows_record_accepts_and_rejects_without_the_password(radius, rows):
    rows(*user("hank"))

    login(radius, "hank")
    login(radius, "hank", "Wrong-Guess-1")

    found = db.session.scalars(select(RadPostAuth).where(RadPostAuth.username == "hank").order_by(RadPostAuth.id)).all()
    assert [r.reply for r in found] == ["Access-Accept", "Access-Reject"]
    assert all(r.pass_ == "" for r in found)
    assert all(abs((r.authdate - utcnow()).total_seconds()) < 60 for r in found)  # UTC


def test_max_all_session_is_summed_from_radacct(radius, rows):
    rows(*user("ivy", None, PASSWORD, RadCheck(username="ivy", attribute="Max-All-Session", op=":=", value="100")))

    acct(radius, "ivy", "Start", "v-1")
    acct(radius, "ivy", "Stop", "v-1", **{"Acct-Session-Time": 40})
    code, reply = login(radius, "ivy")
    assert code == "Access-Accept" and reply["Session-Timeout"] == 60

    acct(radius, "ivy", "Start", "v-2")
    acct(radius, "ivy", "Stop", "v-2", **{"Acct-Session-Time": 60})
    assert login(radius, "ivy")[0] == "Access-Reject"


def test_accounting_on_from_a_rebooted_router_closes_its_open_sessions(radius, rows):
    rows(RadGroupCheck(groupname="single", attribute="Simultaneous-Use", op=":=", value="1"),
         *user("jill", "single"), *user("kurt", "single"))
    acct(radius, "jill", "Start", "r-1")
    acct(radius, "kurt", "Start", "r-2")
    assert login(radius, "jill")[0] == "Access-Reject"  # her session is open

    code, _ = radius.radclient({"Acct-Status-Type": "Accounting-On", "NAS-IP-Address": "127.0.0.1",
                                "Acct-Session-Id": "00000000"}, kind="acct")

    assert code == "Accounting-Response"
    closed = db.session.scalars(select(RadAcct).where(RadAcct.username.in_(["jill", "kurt"]))).all()
    assert len(closed) == 2 and all(r.acctstoptime is not None for r in closed)
    assert {r.acctterminatecause for r in closed} == {"NAS-Reboot"}
    assert login(radius, "jill")[0] == "Access-Accept"


def test_a_quote_in_the_username_cannot_reach_the_sql(radius, rows):
    rows(*user("lena"))

    code, _ = login(radius, "lena' OR '1'='1")

    assert code == "Access-Reject"
    assert login(radius, "lena")[0] == "Access-Accept"  # the server still answers from SQL afterwards


def test_usernames_outside_rlm_sqls_safe_characters_never_match_their_rows(radius, rows):
    # rlm_sql escapes any other character as =XX before the query: writers must keep usernames to these.
    rows(*user("ok.user-1_@isp:x"), *user("plus+user"))

    assert login(radius, "ok.user-1_@isp:x")[0] == "Access-Accept"
    assert login(radius, "plus+user")[0] == "Access-Reject"
