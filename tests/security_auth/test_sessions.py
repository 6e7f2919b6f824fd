"""Server-side sessions: listed, ended by the user or an admin, idle and absolute timeouts, rotation at login."""
from __future__ import annotations

from datetime import timedelta

from isp.extensions import db
from isp.models import User
from isp.models.base import utcnow
from isp.models.security import UserSession
from tests.conftest import AuthActions, csrf_from
from tests.security_auth.helpers import audit_actions, logout, password_step, text


def _rows(app, user_id):
    with app.app_context():
        rows = db.session.scalars(db.select(UserSession).where(UserSession.user_id == user_id).order_by(UserSession.id)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def _shift(app, user_id, **deltas):
    """Move the open session rows' times back (last_seen_at=…, expires_at=… as timedeltas to subtract)."""
    with app.app_context():
        for row in db.session.scalars(db.select(UserSession).where(UserSession.user_id == user_id,
                                                                   UserSession.ended_at.is_(None))):
            for field, delta in deltas.items():
                setattr(row, field, getattr(row, field) - delta)
        db.session.commit()


def test_login_creates_a_row_storing_only_a_hash_of_the_cookie_id(app, client, auth):
    user = auth.login_as("operator")
    rows = _rows(app, user.id)
    assert len(rows) == 1 and rows[0].ended_at is None and len(rows[0].public_id) == 64
    with client.session_transaction() as flask_session:
        sid = flask_session["sid"]
    assert sid != rows[0].public_id and sid not in rows[0].public_id


def test_idle_sessions_end_and_log_out_with_a_message(app, client, auth):
    user = auth.login_as("operator")
    assert client.get("/").status_code == 200
    idle = app.config["SESSION_IDLE_MINUTES"]
    _shift(app, user.id, last_seen_at=timedelta(minutes=idle + 1))
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login")
    assert "logged out after a period without activity" in text(client.get("/auth/login"))
    assert _rows(app, user.id)[0].ended_reason == "idle"


def test_a_session_within_the_idle_limit_stays(app, client, auth):
    user = auth.login_as("operator")
    _shift(app, user.id, last_seen_at=timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] - 2))
    assert client.get("/").status_code == 200
    row = _rows(app, user.id)[0]
    assert row.ended_at is None and utcnow() - row.last_seen_at < timedelta(minutes=1)  # touched again


def test_the_absolute_lifetime_ends_even_an_active_session(app, client, auth):
    user = auth.login_as("operator")
    row = _rows(app, user.id)[0]
    assert abs((row.expires_at - row.created_at).total_seconds() - app.config["PERMANENT_SESSION_LIFETIME"]) < 2
    _shift(app, user.id, expires_at=timedelta(seconds=app.config["PERMANENT_SESSION_LIFETIME"] + 1))
    assert client.get("/").status_code == 302
    assert "maximum length" in text(client.get("/auth/login"))
    assert _rows(app, user.id)[0].ended_reason == "expired"


def test_last_seen_is_written_at_most_once_a_minute(app, client, auth):
    user = auth.login_as("operator")
    first = _rows(app, user.id)[0].last_seen_at
    client.get("/")
    client.get("/account/")
    assert _rows(app, user.id)[0].last_seen_at == first  # no write per request
    _shift(app, user.id, last_seen_at=timedelta(minutes=2))
    client.get("/")
    assert _rows(app, user.id)[0].last_seen_at > first - timedelta(seconds=1)


def test_account_lists_sessions_and_end_all_others_logs_the_other_client_out(app, client, auth):
    user = auth.login_as("operator")
    phone = app.test_client()
    AuthActions(phone, None).login(user.username, **{"User-Agent": "Mozilla/5.0 (Linux; Android 14) Chrome/130.0 Mobile"})
    assert phone.get("/").status_code == 200
    page = text(client.get("/account/"))
    assert page.count('data-test="end-session"') == 1  # the other one; this one is marked instead
    assert "This session" in page and "Chrome on Android" in page
    done = client.post("/account/sessions/end-others", data={"csrf_token": csrf_from(page)})
    assert done.status_code == 302 and "1 other session(s) ended." in text(client.get("/account/"))
    assert phone.get("/").status_code == 302
    assert "ended from another session" in text(phone.get("/auth/login"))
    assert client.get("/").status_code == 200
    assert len(audit_actions(app, "session.end_others")) == 1


def test_ending_one_other_session(app, client, auth):
    user = auth.login_as("operator")
    other = app.test_client()
    AuthActions(other, None).login(user.username)
    page = client.get("/account/").get_data(as_text=True)
    other_id = max(r.id for r in _rows(app, user.id))
    assert client.post(f"/account/sessions/{other_id}/end", data={"csrf_token": csrf_from(page)}).status_code == 302
    assert other.get("/").status_code == 302 and client.get("/").status_code == 200
    assert [a[0] for a in audit_actions(app, "session.end")] == [user.id]


def test_a_user_cannot_end_someone_elses_session(app, client, auth, make_user):
    auth.login_as("operator")
    stranger = make_user("operator")
    their = app.test_client()
    AuthActions(their, None).login(stranger.username)
    their_id = _rows(app, stranger.id)[0].id
    client.post(f"/account/sessions/{their_id}/end", data={"csrf_token": auth.token()})
    assert their.get("/").status_code == 200
    assert "already ended" in text(client.get("/account/"))


def test_logout_ends_this_session_only(app, client, auth):
    user = auth.login_as("operator")
    other = app.test_client()
    AuthActions(other, None).login(user.username)
    assert logout(client).status_code == 302
    assert client.get("/").status_code == 302
    assert other.get("/").status_code == 200
    assert sorted(r.ended_reason for r in _rows(app, user.id)) == ["", "logout"]


def test_admin_sees_and_ends_a_users_sessions(app, client, auth, make_user):
    auth.login_as("admin")
    target = make_user("operator")
    theirs = app.test_client()
    AuthActions(theirs, None).login(target.username, **{"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"})
    page = text(client.get(f"/settings/users/{target.id}"))
    assert "Firefox on Linux" in page and 'data-test="end-session"' in page
    row_id = _rows(app, target.id)[0].id
    assert client.post(f"/settings/users/{target.id}/sessions/{row_id}/end", data={"csrf_token": csrf_from(page)}).status_code == 302
    assert theirs.get("/").status_code == 302
    assert "An administrator ended your session" in text(theirs.get("/auth/login"))
    AuthActions(theirs, None).login(target.username)
    client.post(f"/settings/users/{target.id}/sessions/end-all", data={"csrf_token": csrf_from(page)})
    assert theirs.get("/").status_code == 302
    assert len(audit_actions(app, "session.end")) == 2


def test_role_change_and_password_reset_end_the_rows(app, client, auth, make_user):
    auth.login_as("admin")
    target = make_user("operator")
    theirs = app.test_client()
    AuthActions(theirs, None).login(target.username)
    token = auth.token()
    client.post(f"/settings/users/{target.id}/role", data={"csrf_token": token, "role": "reseller"})
    assert theirs.get("/").status_code == 302
    assert _rows(app, target.id)[0].ended_reason == "role"
    AuthActions(theirs, None).login(target.username)
    client.post(f"/settings/users/{target.id}/password", data={"csrf_token": token, "password": "brand-new-pass-1",
                                                               "confirm": "brand-new-pass-1"})
    assert _rows(app, target.id)[-1].ended_reason == "password"


def test_session_is_rotated_at_login(app, client, make_user):
    user = make_user("operator")
    client.get("/auth/login")
    before = client.get_cookie("session").value
    assert password_step(client, user.username).status_code == 302
    after = client.get_cookie("session").value
    assert after != before
    planted = app.test_client()  # someone who planted or kept the pre-login cookie
    planted.set_cookie("session", before)
    assert planted.get("/").status_code == 302
    with client.session_transaction() as s:
        first_sid = s["sid"]
    logout(client)
    password_step(client, user.username)
    with client.session_transaction() as s:
        assert s["sid"] != first_sid


def test_a_session_cookie_without_a_server_row_is_logged_out(app, client, auth):
    auth.login_as("operator")
    with client.session_transaction() as s:
        s["sid"] = "made-up"
    assert client.get("/").status_code == 302


def test_disabling_an_account_ends_its_rows(app, client, auth, make_user):
    auth.login_as("admin")
    target = make_user("operator")
    AuthActions(app.test_client(), None).login(target.username)
    client.post(f"/settings/users/{target.id}/disable", data={"csrf_token": auth.token()})
    assert _rows(app, target.id)[0].ended_reason == "disabled"
    with app.app_context():
        assert db.session.get(User, target.id).active is False


def test_the_hourly_purge_forgets_long_ended_sessions_and_keeps_live_and_recent_ones(app, client, auth):
    from isp.jobs import maintenance, schedule

    user = auth.login_as("operator")
    with app.app_context():
        now = utcnow()
        old_end = UserSession(public_id="a" * 64, user_id=user.id, created_at=now - timedelta(days=40),
                              last_seen_at=now - timedelta(days=40), expires_at=now - timedelta(days=39),
                              ended_at=now - timedelta(days=31), ended_reason="logout")
        recent_end = UserSession(public_id="b" * 64, user_id=user.id, created_at=now - timedelta(days=2),
                                 last_seen_at=now - timedelta(days=2), expires_at=now + timedelta(hours=1),
                                 ended_at=now - timedelta(days=1), ended_reason="logout")
        db.session.add_all([old_end, recent_end])
        db.session.commit()
        counts = maintenance.purge_security()
    assert counts["sessions"] == 1
    left = {r.public_id for r in _rows(app, user.id)}
    assert "a" * 64 not in left and "b" * 64 in left and len(left) == 2  # the live login row stays
    assert client.get("/account/").status_code == 200  # still logged in
    assert any(e["func"].endswith("maintenance.purge_security") for e in schedule.SCHEDULE)


def test_a_session_gone_idle_is_no_longer_listed_as_active(app, client, auth, make_user):
    user = auth.login_as("operator")
    other = app.test_client()
    AuthActions(other, make_user).login(user.username)
    assert text(client.get("/account/")).count('data-test="end-session"') == 1  # the other browser, with End
    with app.app_context():  # the other browser has been idle past the limit (this one is seen now)
        rows = db.session.scalars(db.select(UserSession).where(UserSession.user_id == user.id)
                                  .order_by(UserSession.id)).all()
        rows[-1].last_seen_at = utcnow() - timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 5)
        db.session.commit()
    assert text(client.get("/account/")).count('data-test="end-session"') == 0
