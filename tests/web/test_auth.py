"""Login, logout, rate limit, CSRF, next-safety and session handling."""
from __future__ import annotations

import pytest

from tests.conftest import TEST_PASSWORD


def test_login_page_has_fields_and_csrf(client):
    page = client.get("/auth/login").get_data(as_text=True)
    assert 'name="username"' in page and 'name="password"' in page and 'name="csrf_token"' in page


def test_login_success_shows_dashboard(client, auth, make_user):
    user = make_user("operator", full_name="Grace Op")
    response = auth.login(user.username)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "Dashboard" in page and "Grace Op" in page


def test_username_is_case_insensitive(client, auth, make_user):
    make_user("operator", username="mixed.case")
    assert auth.login("Mixed.Case").status_code == 302


def test_login_failure_says_invalid_and_stays_logged_out(client, auth, make_user):
    user = make_user("operator")
    response = auth.login(user.username, "wrong-password-123")
    assert response.status_code == 422
    assert "Invalid username or password." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_disabled_user_cannot_log_in(client, auth, make_user, app):
    from isp.extensions import db
    from isp.models import User
    from isp.services import users

    user = make_user("operator")
    with app.app_context():
        users.set_active(db.session.get(User, user.id), False)
        db.session.commit()
    assert auth.login(user.username).status_code == 422


def test_sixth_failure_in_a_minute_is_blocked_with_a_clear_message(client, auth, make_user):
    user = make_user("operator")
    for _ in range(5):
        assert auth.login(user.username, "nope-nope-nope").status_code == 422
    response = auth.login(user.username, TEST_PASSWORD)  # even the right password waits
    assert response.status_code == 429
    assert "Too many failed attempts. Wait" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_rate_limit_is_per_ip_across_usernames(client, auth, make_user):
    user = make_user("operator")
    for n in range(5):
        auth.login(f"ghost{n}", "nope-nope-nope")
    response = auth.login(user.username, TEST_PASSWORD)
    assert response.status_code == 429


def test_rate_limit_is_per_username_across_ips(client, auth, make_user):
    user = make_user("operator")
    for n in range(5):
        client.environ_base["REMOTE_ADDR"] = f"10.0.0.{n + 1}"
        auth.login(user.username, "nope-nope-nope")
    client.environ_base["REMOTE_ADDR"] = "10.0.0.99"
    assert auth.login(user.username, TEST_PASSWORD).status_code == 429


def test_login_post_without_csrf_is_rejected(client, make_user):
    user = make_user("operator")
    response = client.post("/auth/login", data={"username": user.username, "password": TEST_PASSWORD})
    assert response.status_code == 400
    assert "Reload the page" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_htmx_post_without_csrf_header_is_rejected(client, auth, make_user):
    auth.login_as("admin")
    target = make_user("operator")
    response = client.post(f"/settings/users/{target.id}/disable", headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert response.headers["HX-Retarget"] == "#main"


def test_htmx_post_with_csrf_header_is_accepted(client, auth, make_user, app):
    auth.login_as("admin")
    target = make_user("operator")
    token = auth.token()
    response = client.post(f"/settings/users/{target.id}/disable", headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 302
    from isp.extensions import db
    from isp.models import User

    with app.app_context():
        assert db.session.get(User, target.id).active is False


def test_logout_is_post_only_and_ends_session(client, auth):
    auth.login_as("operator")
    assert client.get("/auth/logout").status_code == 405
    response = auth.logout()
    assert response.status_code == 302 and response.headers["Location"] == "/auth/login"
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    "next_url,expected",
    [
        ("/settings/users/", "/settings/users/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("http:/evil.example", "/"),
        ("%2F%2Fevil.example", "/"),
    ],
)
def test_next_redirect_only_goes_to_local_paths(auth, make_user, next_url, expected):
    user = make_user("admin")
    response = auth.login(user.username, next_url=next_url)
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_anonymous_page_redirects_to_login_with_next(client):
    response = client.get("/settings/users/?q=a")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login?next=")


def test_htmx_call_with_expired_session_gets_hx_redirect(client):
    response = client.get("/settings/users/?q=x", headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response.headers["HX-Redirect"].startswith("/auth/login?next=")


def test_json_call_without_session_gets_401(client):
    response = client.get("/", headers={"Accept": "application/json"})
    assert response.status_code == 401 and response.json["error"] == "unauthenticated"


def test_password_reset_ends_existing_sessions(app, client, auth):
    from isp.extensions import db
    from isp.models import User
    from isp.services import users

    user = auth.login_as("operator")
    assert client.get("/").status_code == 200
    with app.app_context():
        users.reset_password(db.session.get(User, user.id), "another-password-1")
        db.session.commit()
    assert client.get("/").status_code == 302


def test_session_cookie_is_secure_outside_debug(monkeypatch):
    from isp.config import load_config

    monkeypatch.setenv("ISP_ENV", "production")
    config = load_config(
        {"ISP_ENV": "production", "SECRET_KEY": "x" * 40, "ISP_ENCRYPTION_KEY": "A" * 43 + "=", "DATABASE_URL": "mysql://u:p@h/isp", "REDIS_URL": "redis://h"}
    )
    assert config["SESSION_COOKIE_SECURE"] and config["SESSION_COOKIE_HTTPONLY"] and config["REMEMBER_COOKIE_SECURE"]
