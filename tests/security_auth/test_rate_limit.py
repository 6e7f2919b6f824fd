"""Rate limits on Flask-Limiter: the login throttle's behaviour, decorated views, the 429 page, failing open."""
from __future__ import annotations

import logging

import pytest
from flask import current_app, jsonify

from isp.extensions import limiter
from isp.web.security import public
from tests.conftest import TEST_PASSWORD, AuthActions, make_test_app
from tests.security_auth.helpers import logout, text


def test_a_success_clears_the_usernames_failures(client, auth, make_user):
    user = make_user("operator")
    for _ in range(4):
        assert auth.login(user.username, "nope-nope-nope").status_code == 422
    assert auth.login(user.username).status_code == 302
    logout(client)
    for _ in range(4):
        assert auth.login(user.username, "nope-nope-nope").status_code == 422
    assert auth.login(user.username).status_code == 302  # four new failures, not eight


def test_the_wait_shown_counts_down_from_the_window(app, client, auth, make_user):
    user = make_user("operator")
    for _ in range(5):
        auth.login(user.username, "nope-nope-nope")
    page = text(auth.login(user.username))
    wait = int(page.split("Wait ")[1].split(" seconds")[0])
    assert 1 <= wait <= app.config["LOGIN_RATE_WINDOW"]


def test_failed_logins_are_audited_without_the_password(app, client, auth, make_user):
    from tests.security_auth.helpers import audit_actions

    user = make_user("operator")
    auth.login(user.username, "a-secret-typo-123")
    auth.login("nobody-at-all", "another-typo-123")
    entries = audit_actions(app, "auth.login_failed")
    assert [(e[1], e[2]) for e in entries] == [("users", user.id), ("", None)]
    assert not any("typo" in (e[3] or "") for e in entries)
    from isp.extensions import db
    from isp.models import AuditEntry

    with app.app_context():
        stored = " ".join(f"{r.target} {r.detail} {r.changes}" for r in db.session.scalars(db.select(AuditEntry)))
    assert "typo" not in stored and "nobody-at-all" in stored


def test_redis_down_fails_open_for_login_with_an_error_logged(_migrated, make_user, caplog, monkeypatch):
    import redis

    # Alembic's fileConfig (run by the session's migration) disables loggers that existed before it.
    monkeypatch.setattr(logging.getLogger("isp.web.auth.throttle"), "disabled", False)

    make_user("operator", username="during-outage")
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    app = make_test_app(_migrated, REDIS_CLIENT=dead)
    caplog.set_level(logging.ERROR)
    client = app.test_client()
    assert AuthActions(client, None).login("during-outage", "nope-nope-nope").status_code == 422
    assert AuthActions(client, None).login("during-outage", TEST_PASSWORD).status_code == 302
    assert "login rate limiter unavailable" in caplog.text


@pytest.fixture
def limited_app(_migrated):
    """An app with two views decorated the way other blueprints use the limiter."""
    app = make_test_app(_migrated, TEST_LIMIT="2 per minute")
    app.config["REDIS_CLIENT"].flushdb()

    @app.get("/limited-page")
    @public
    @limiter.limit(lambda: current_app.config["TEST_LIMIT"])
    def limited_page():
        return "ok"

    @app.get("/api/limited")
    @public
    @limiter.limit(lambda: current_app.config["TEST_LIMIT"])
    def limited_api():
        return jsonify(ok=True)

    yield app
    app.config["REDIS_CLIENT"].flushdb()


def test_a_limited_page_answers_a_friendly_429_with_the_wait(limited_app):
    client = limited_app.test_client()
    assert [client.get("/limited-page").status_code for _ in range(2)] == [200, 200]
    blocked = client.get("/limited-page")
    assert blocked.status_code == 429
    body = text(blocked)
    assert "Slow down" in body and "Too many requests. Wait" in body
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60
    other = limited_app.test_client(); other.environ_base["REMOTE_ADDR"] = "10.9.9.9"  # noqa: E702
    assert other.get("/limited-page").status_code == 200  # keyed per address by default


def test_a_limited_api_path_keeps_a_json_answer(limited_app):
    client = limited_app.test_client()
    for _ in range(2):
        client.get("/api/limited")
    blocked = client.get("/api/limited")
    assert blocked.status_code == 429 and blocked.is_json


def test_concurrent_wrong_passwords_cannot_slip_past_the_limit(app, make_user):
    """Each attempt is counted before the password is checked: 12 at once for one user get at most 5 checks."""
    import threading

    from tests.conftest import csrf_from

    user = make_user("operator")
    codes: list[int] = []
    clients = [app.test_client() for _ in range(12)]
    tokens = [csrf_from(c.get("/auth/login").get_data(as_text=True)) for c in clients]
    start = threading.Barrier(len(clients))

    def guess(c, token):
        start.wait()
        codes.append(c.post("/auth/login", data={"username": user.username, "password": "wrong-guess-1234",
                                                 "csrf_token": token}).status_code)

    threads = [threading.Thread(target=guess, args=pair) for pair in zip(clients, tokens, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(codes) == 12
    assert codes.count(422) <= app.config["LOGIN_RATE_LIMIT"]
    assert codes.count(429) >= 12 - app.config["LOGIN_RATE_LIMIT"]


def test_successful_logins_never_use_up_the_addresss_allowance(app, make_user):
    """An office behind one address: after more successful logins than the per-IP limit, a colleague still gets in."""
    app.config["LOGIN_RATE_LIMIT_IP"] = 3
    users = [make_user("operator") for _ in range(5)]
    for user in users:
        client = app.test_client()
        assert AuthActions(client, make_user).login(user.username).status_code == 302
