"""Admin user management: create, role change, disable, reset password, listing."""
from __future__ import annotations

from isp.extensions import db
from isp.models import AuditEntry, Role, User
from tests.conftest import TEST_PASSWORD, AuthActions


def _user(app, user_id):
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def test_admin_creates_an_account_that_can_log_in(app, client, auth):
    auth.login_as("admin")
    token = auth.token()
    response = client.post("/settings/users/new", data={
        "csrf_token": token, "username": "Alice.R", "full_name": "Alice Reseller", "role": "reseller",
        "password": "reseller-pass-1", "confirm": "reseller-pass-1"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "alice.r" in page and "Account &#39;alice.r&#39; created." in page
    other = AuthActions(app.test_client(), None)
    assert other.login("alice.r", "reseller-pass-1").status_code == 302


def test_create_refuses_duplicates_short_passwords_and_mismatch(client, auth, make_user):
    auth.login_as("admin")
    make_user("operator", username="taken")
    token = auth.token()
    base = {"csrf_token": token, "role": "operator", "full_name": ""}
    dup = client.post("/settings/users/new", data={**base, "username": "taken", "password": "abcdefghijk", "confirm": "abcdefghijk"})
    assert dup.status_code == 422 and "already taken" in dup.get_data(as_text=True)
    short = client.post("/settings/users/new", data={**base, "username": "newbie", "password": "short", "confirm": "short"})
    assert short.status_code == 422 and "at least 10" in short.get_data(as_text=True)
    mismatch = client.post("/settings/users/new", data={**base, "username": "newbie", "password": "abcdefghijk", "confirm": "abcdefghijz"})
    assert mismatch.status_code == 422 and "Passwords do not match." in mismatch.get_data(as_text=True)
    bad = client.post("/settings/users/new", data={**base, "username": "no spaces!", "password": "abcdefghijk", "confirm": "abcdefghijk"})
    assert bad.status_code == 422 and "Username must be" in bad.get_data(as_text=True)


def test_change_role_and_disable_end_the_users_session(app, client, auth, make_user):
    auth.login_as("admin")
    victim = make_user("operator")
    victim_client = app.test_client()
    AuthActions(victim_client, None).login(victim.username)
    assert victim_client.get("/").status_code == 200
    token = auth.token()
    assert client.post(f"/settings/users/{victim.id}/role", data={"csrf_token": token, "role": "reseller"}).status_code == 302
    assert _user(app, victim.id).role == Role.reseller
    assert victim_client.get("/").status_code == 302  # must log in again with the new role
    client.post(f"/settings/users/{victim.id}/disable", data={"csrf_token": token})
    assert _user(app, victim.id).active is False
    assert AuthActions(victim_client, None).login(victim.username).status_code == 422


def test_reset_password_lets_the_user_log_in_with_the_new_one(app, client, auth, make_user):
    auth.login_as("admin")
    victim = make_user("operator")
    token = auth.token()
    response = client.post(f"/settings/users/{victim.id}/password", data={"csrf_token": token, "password": "brand-new-pass", "confirm": "brand-new-pass"})
    assert response.status_code == 302
    other = AuthActions(app.test_client(), None)
    assert other.login(victim.username, TEST_PASSWORD).status_code == 422
    assert other.login(victim.username, "brand-new-pass").status_code == 302


def test_last_admin_cannot_be_disabled_or_demoted(app, client, auth):
    admin = auth.login_as("admin")
    token = auth.token()
    response = client.post(f"/settings/users/{admin.id}/disable", data={"csrf_token": token}, follow_redirects=True)
    assert "At least one active admin must remain." in response.get_data(as_text=True)
    client.post(f"/settings/users/{admin.id}/role", data={"csrf_token": token, "role": "operator"})
    assert _user(app, admin.id).role == Role.admin and _user(app, admin.id).active


def test_list_filters_in_sql_and_paginates(app, client, auth, make_user):
    app.config["PAGE_SIZE"] = 5
    auth.login_as("admin")
    for n in range(7):
        make_user("reseller", username=f"shop{n}")
    make_user("operator", username="zed")
    page = client.get("/settings/users/?role=reseller").get_data(as_text=True)
    assert "shop0" in page and "zed" not in page and "Page 1 of 2" in page
    fragment = client.get("/settings/users/?q=ze", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert "zed" in body and "shop1" not in body and "<html" not in body
    assert "HX-Request" in fragment.headers["Vary"]


def test_user_actions_are_audited_without_secrets(app, client, auth, make_user):
    auth.login_as("admin")
    victim = make_user("operator")
    client.post(f"/settings/users/{victim.id}/password", data={"csrf_token": auth.token(), "password": "audit-me-please", "confirm": "audit-me-please"})
    with app.app_context():
        entries = db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == "user.password")).all()
        assert len(entries) == 1 and entries[0].target == victim.username
        assert all("audit-me-please" not in (e.detail or "") for e in db.session.scalars(db.select(AuditEntry)))


def test_unknown_user_is_a_404_page(client, auth):
    auth.login_as("admin")
    response = client.get("/settings/users/999999")
    assert response.status_code == 404 and "Not found" in response.get_data(as_text=True)


def test_create_and_reset_refuse_the_username_common_and_overlong_passwords(app, client, auth, make_user):
    auth.login_as("admin")
    token = auth.token()
    base = {"csrf_token": token, "role": "operator", "full_name": ""}
    cases = {"Password must not be the username.": ("long.username", "Long.Username"),
             "one of the most common": ("newbie", "qwertyuiop"),
             "at most 128 characters": ("newbie", "x" * 129)}
    for message, (username, password) in cases.items():
        data = {**base, "username": username, "password": password, "confirm": password}
        response = client.post("/settings/users/new", data=data)
        assert response.status_code == 422 and message in response.get_data(as_text=True), message
    assert client.post("/settings/users/new", data={**base, "username": "newbie", "password": "x" * 128,
                                                     "confirm": "x" * 128}).status_code == 302
    target = make_user("operator", username="reset.me")
    page = client.post(f"/settings/users/{target.id}/password", data={"csrf_token": token, "password": "1q2w3e4r5t",
                                                                       "confirm": "1q2w3e4r5t"}, follow_redirects=True)
    assert "one of the most common" in page.get_data(as_text=True)
    assert AuthActions(app.test_client(), None).login("reset.me", "1q2w3e4r5t").status_code == 422
