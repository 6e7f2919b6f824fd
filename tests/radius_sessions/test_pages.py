"""Online now, login failures and the customer page for radius-mode subscriptions, through the real views."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, update

from isp.extensions import db
from isp.models import Subscription, User
from isp.radius.models import RadPostAuth
from isp.services import radius_sessions
from isp.transaction import atomic
from tests.radius_sessions.conftest import gigawords, naive


def _reseller(app, make_user):
    user = make_user("reseller")
    with app.app_context():
        db.session.execute(update(User).where(User.id == user.id).values(can_sell_services=True))
        db.session.commit()
    return user


def _rollup(app) -> None:
    with app.app_context():
        atomic(radius_sessions.rollup)


def _users_listed(html: str) -> list[str]:
    return re.findall(r'<td data-label="User">(?:<a href="[^"]+">)?<code>([^<]+)</code>', html)


def test_staff_see_everyone_online_with_customer_router_and_traffic(app, auth, make_sub, make_voucher, acct):
    sub = make_sub("alice")
    make_voucher("V0000001")
    acct("alice", acctinputoctets=1_048_576, acctoutputoctets=gigawords(1, 0), framedipaddress="10.10.0.5",
         callingstationid="AA:BB:CC:DD:EE:01")
    acct("V0000001")
    acct("gone", acctstoptime=naive(datetime.now(UTC)))
    auth.login_as("operator")

    html = auth.client.get("/sessions/").get_data(as_text=True)

    assert sorted(_users_listed(html)) == ["V0000001", "alice"]
    assert f'href="/customers/{sub.id and sub.customer_id}"' in html
    assert "rad-1" in html and "10.10.0.5" in html and "AA:BB:CC:DD:EE:01" in html
    assert "4 GiB / 1 MiB" in html  # download / upload, Gigawords included


def test_filters_by_username_prefix_and_router(app, auth, world, make_sub, acct):
    make_sub("alice")
    make_sub("bob")
    acct("alice")
    acct("bob", nasipaddress="10.100.0.8")
    auth.login_as("operator")

    assert _users_listed(auth.client.get("/sessions/?q=ali").get_data(as_text=True)) == ["alice"]
    by_router = auth.client.get(f"/sessions/?router_id={world.other_router_id}").get_data(as_text=True)
    assert _users_listed(by_router) == ["bob"]
    assert _users_listed(auth.client.get("/sessions/?q=%25").get_data(as_text=True)) == []  # LIKE wildcards are text


def test_online_list_pages_in_sql(app, auth, make_sub, acct):
    for n in range(7):
        acct(f"user{n}")
    app.config["PAGE_SIZE"] = 5
    auth.login_as("operator")
    first = _users_listed(auth.client.get("/sessions/").get_data(as_text=True))
    second = _users_listed(auth.client.get("/sessions/?page=2").get_data(as_text=True))
    assert first == ["user6", "user5", "user4", "user3", "user2"] and second == ["user1", "user0"]


def test_a_reseller_sees_only_their_own_customers_and_vouchers(app, auth, make_user, make_sub, make_voucher, acct):
    reseller = _reseller(app, make_user)
    make_sub("mine", reseller_id=reseller.id)
    make_sub("theirs")
    make_voucher("VMINE001", reseller_id=reseller.id)
    make_voucher("VOTHER01")
    for name in ("mine", "theirs", "VMINE001", "VOTHER01", "stranger"):
        acct(name)
    _rollup(app)
    auth.login(reseller.username)

    html = auth.client.get("/sessions/").get_data(as_text=True)

    assert sorted(_users_listed(html)) == ["VMINE001", "mine"]
    assert auth.client.get("/sessions/failures").status_code in (302, 403)  # staff only


def test_failures_explain_each_reject_from_our_records(app, auth, make_sub, make_voucher, acct):
    now = datetime.now(UTC)
    make_sub("suspended1", state="suspended")
    make_sub("expired1", paid_until=now - timedelta(days=3))
    make_sub("busy1")
    make_sub("typo1", password="right-one")
    voucher_id = make_voucher("VEXPIRED", expires_at=now - timedelta(hours=1))
    acct("busy1", acctstarttime=naive(now - timedelta(minutes=10)))
    at = naive(now - timedelta(minutes=1))
    with app.app_context():
        db.session.execute(insert(RadPostAuth.__table__), [
            {"username": name, "pass": password, "reply": "Access-Reject", "authdate": at}
            for name, password in (("suspended1", ""), ("expired1", ""), ("busy1", ""), ("typo1", "wrong-one"),
                                   ("VEXPIRED", ""), ("nobody", ""))])
        db.session.execute(insert(RadPostAuth.__table__).values(username="busy1", reply="Access-Accept", authdate=at))
        db.session.commit()
    auth.login_as("operator")

    html = auth.client.get("/sessions/failures").get_data(as_text=True)

    reasons = dict(re.findall(r'<td data-label="User"><code>([^<]+)</code></td>\s*<td data-label="Reason" data-test="reason">'
                              r'([^<]+)</td>', html))
    assert reasons == {"suspended1": "account suspended", "expired1": "expired",
                       "busy1": "already online (Simultaneous-Use)", "typo1": "wrong password", "VEXPIRED": "expired",
                       "nobody": "unknown user"}
    assert "wrong-one" not in html  # the attempted password is never shown
    assert f"/sessions/vouchers/{voucher_id}" in html
    assert "stores no reason" in html


def test_customer_page_shows_radius_sessions_and_rolled_up_usage(app, auth, make_sub, acct):
    sub = make_sub("carol")
    acct("carol", acctstoptime=naive(datetime.now(UTC) - timedelta(minutes=1)), acctterminatecause="User-Request",
         acctinputoctets=2_000_000, acctoutputoctets=gigawords(2, 0), framedipaddress="10.10.9.9")
    acct("carol", framedipaddress="10.10.9.10")
    _rollup(app)
    auth.login_as("operator")

    html = auth.client.get(f"/customers/{sub.customer_id}").get_data(as_text=True)

    assert 'data-test="usage-chart"' in html and "8.0 GiB in all" in html
    assert "10.10.9.9" in html and "User-Request" in html
    assert 'data-test="current-session"' in html and "10.10.9.10" in html
    assert f'href="/sessions/subscriptions/{sub.id}" data-test="radius-sessions"' in html  # the whole history
    with app.app_context():
        assert db.session.get(Subscription, sub.id).period_bytes == 2_000_000 + gigawords(2, 0)


def test_a_vouchers_sessions_page_is_scoped_to_its_reseller(app, auth, make_user, make_voucher, acct):
    reseller = _reseller(app, make_user)
    other = make_voucher("VOTHER02")
    mine = make_voucher("VMINE002", reseller_id=reseller.id)
    acct("VMINE002", acctinputoctets=10, acctoutputoctets=3 * 1024 * 1024, acctsessiontime=600)
    _rollup(app)
    auth.login(reseller.username)

    page = auth.client.get(f"/sessions/vouchers/{mine}")
    assert page.status_code == 200
    assert 'data-test="usage"' in page.get_data(as_text=True) and "3 MiB" in page.get_data(as_text=True)
    assert auth.client.get(f"/sessions/vouchers/{other}").status_code == 404


def test_a_services_sessions_page_pages_its_radacct_history(app, auth, make_user, make_sub, acct):
    reseller = _reseller(app, make_user)
    sub = make_sub("paged", reseller_id=reseller.id)
    other = make_sub("notmine")
    start = datetime.now(UTC) - timedelta(days=2)
    for n in range(25):
        acct("paged", framedipaddress=f"10.20.0.{n}", acctstarttime=naive(start + timedelta(minutes=n)),
             acctstoptime=naive(start + timedelta(minutes=n, seconds=30)))
    auth.login(reseller.username)

    first = auth.client.get(f"/sessions/subscriptions/{sub.id}").get_data(as_text=True)
    second = auth.client.get(f"/sessions/subscriptions/{sub.id}?page=2").get_data(as_text=True)

    assert "10.20.0.24<" in first and "10.20.0.5<" in first and "10.20.0.4<" not in first  # newest 20 first
    assert "10.20.0.4<" in second and "10.20.0.0<" in second and "10.20.0.5<" not in second
    assert auth.client.get(f"/sessions/subscriptions/{other.id}").status_code == 404


def test_a_resellers_new_session_shows_at_once_or_after_the_rollup_when_radius_is_elsewhere(
        app, auth, make_user, make_sub, acct, monkeypatch):
    from isp.radius import binds

    reseller = _reseller(app, make_user)
    make_sub("fresh", reseller_id=reseller.id)
    make_sub("foreign")
    acct("fresh")
    acct("foreign")
    auth.login(reseller.username)
    # One connection reaches both databases (the test profiles): the scope is a semi-join, no rollup needed.
    assert _users_listed(auth.client.get("/sessions/").get_data(as_text=True)) == ["fresh"]

    monkeypatch.setattr(binds, "mode", lambda app=None: binds.TWO_PHASE)  # radius on another server
    assert _users_listed(auth.client.get("/sessions/").get_data(as_text=True)) == []
    _rollup(app)
    assert _users_listed(auth.client.get("/sessions/").get_data(as_text=True)) == ["fresh"]


def test_a_reused_username_does_not_show_its_previous_owners_sessions(app, auth, make_sub, acct):
    """A username freed (renamed or deleted) and taken by a newer service: that service's history starts when it
    was made, so its owner never sees the previous subscriber's sessions, MAC and addresses."""
    before = datetime.now(UTC) - timedelta(days=3)
    sub = make_sub("reused", created_at=datetime.now(UTC) - timedelta(days=1))
    acct("reused", framedipaddress="10.30.0.1", callingstationid="AA:AA:AA:00:00:01", acctstarttime=naive(before),
         acctstoptime=naive(before + timedelta(hours=1)))
    acct("reused", framedipaddress="10.30.0.2", acctstarttime=naive(datetime.now(UTC) - timedelta(hours=1)),
         acctstoptime=naive(datetime.now(UTC) - timedelta(minutes=30)))
    auth.login_as("operator")

    page = auth.client.get(f"/sessions/subscriptions/{sub.id}").get_data(as_text=True)
    customer = auth.client.get(f"/customers/{sub.customer_id}").get_data(as_text=True)

    assert "10.30.0.2" in page and "10.30.0.1" not in page and "AA:AA:AA:00:00:01" not in page
    assert "10.30.0.2" in customer and "10.30.0.1" not in customer
