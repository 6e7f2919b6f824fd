"""Two-factor login as a user meets it: enrol with the key shown, log in with a code, recovery codes, devices."""
from __future__ import annotations

from tests.conftest import TEST_PASSWORD, AuthActions, csrf_from
from tests.security_auth.helpers import (
    audit_actions,
    code,
    enrol,
    factor_step,
    logout,
    password_step,
    set_security,
    shown_codes,
    shown_secret,
    text,
)


def test_enrol_with_the_shown_key_then_login_needs_the_code(app, client, auth):
    user = auth.login_as("admin")
    secret, codes = enrol(client)
    assert len(set(codes)) == 10
    page = text(client.get("/account/"))
    assert "10 of 10 recovery codes left." in page
    # The codes were shown once: nothing on the account page repeats them.
    assert not any(c in page for c in codes)
    assert logout(client).status_code == 302

    first = password_step(client, user.username, next_url="/settings/users/")
    assert first.status_code == 302 and first.headers["Location"] == "/auth/two-factor"
    assert client.get("/").status_code == 302  # the password alone logs nobody in
    assert client.get("/account/").headers["Location"].startswith("/auth/login")
    done = factor_step(client, code(secret, 1))
    assert done.status_code == 302 and done.headers["Location"] == "/settings/users/"
    assert client.get("/").status_code == 200
    assert [a[1:3] for a in audit_actions(app, "2fa.enable")] == [("users", user.id)]


def test_wrong_codes_are_refused_with_the_tries_left_then_a_wait(app, client, auth):
    user = auth.login_as("admin")
    secret, _ = enrol(client)
    logout(client)
    password_step(client, user.username)
    first = factor_step(client, "000000" if code(secret) != "000000" else "111111")
    assert first.status_code == 422
    assert "That code is not right, or it was already used. 4 tries left before a pause." in text(first)
    for _ in range(3):
        factor_step(client, "123456x")
    last = factor_step(client, "999999x")
    assert last.status_code == 429 and "Too many wrong codes: wait" in text(last)
    blocked = factor_step(client, code(secret))  # even the right code waits
    assert blocked.status_code == 429 and "Too many wrong codes. Wait" in text(blocked)
    assert client.get("/").status_code == 302
    assert len(audit_actions(app, "auth.login_failed")) == 5


def test_second_factor_limit_is_per_username_across_addresses(app, client, auth):
    user = auth.login_as("admin")
    secret, _ = enrol(client)
    logout(client)
    for n in range(5):
        client.environ_base["REMOTE_ADDR"] = f"10.1.0.{n + 1}"
        password_step(client, user.username)
        factor_step(client, "12345x")
    client.environ_base["REMOTE_ADDR"] = "10.1.0.99"
    password_step(client, user.username)
    assert factor_step(client, code(secret)).status_code == 429


def test_a_recovery_code_works_once(app, client, auth):
    user = auth.login_as("operator")
    _, codes = enrol(client)
    logout(client)
    password_step(client, user.username)
    ok = factor_step(client, codes[0].upper().replace("-", " "))  # typed loosely: case, space
    assert ok.status_code == 302
    assert "9 left" in text(client.get("/"))
    logout(client)
    password_step(client, user.username)
    again = factor_step(client, codes[0])
    assert again.status_code == 422 and client.get("/").status_code == 302
    assert len(audit_actions(app, "2fa.recovery_code_used")) == 1


def test_a_totp_code_is_refused_the_second_time(client, auth):
    user = auth.login_as("operator")
    secret, _ = enrol(client)
    logout(client)
    used = code(secret, 1)
    password_step(client, user.username)
    assert factor_step(client, used).status_code == 302
    logout(client)
    password_step(client, user.username)
    replay = factor_step(client, used)
    assert replay.status_code == 422 and "already used" in text(replay)
    # An older code than the one used is refused too (the step only moves forward).
    assert factor_step(client, code(secret, -1)).status_code == 422


def test_remember_this_device_skips_the_factor_until_revoked(app, client, auth):
    user = auth.login_as("admin")
    secret, _ = enrol(client)
    logout(client)
    password_step(client, user.username)
    assert "Remember this device" in text(client.get("/auth/two-factor"))
    assert factor_step(client, code(secret, 1), remember=True).status_code == 302
    cookie = client.get_cookie("isp_device", path="/auth/")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    logout(client)
    straight = password_step(client, user.username)
    assert straight.status_code == 302 and straight.headers["Location"] == "/"
    page = text(client.get("/account/"))
    assert "Remembered devices" in page and 'data-test="revoke-device"' in page
    device_id = int(page.split("/account/devices/")[1].split("/")[0])
    client.post(f"/account/devices/{device_id}/revoke", data={"csrf_token": csrf_from(page)})
    assert "No remembered devices" in text(client.get("/account/"))
    logout(client)
    assert password_step(client, user.username).headers["Location"] == "/auth/two-factor"
    assert [a[0] for a in audit_actions(app, "2fa.device_revoke")] == [user.id]
    assert len(audit_actions(app, "2fa.device_remember")) == 1


def test_a_forged_device_cookie_is_ignored(app, client, auth):
    user = auth.login_as("admin")
    enrol(client)
    logout(client)
    client.set_cookie("isp_device", "eyJ1IjoxLCJ0IjoieCJ9.forged", path="/auth/")
    assert password_step(client, user.username).headers["Location"] == "/auth/two-factor"


def test_remember_option_is_hidden_when_the_setting_is_zero(app, client, auth):
    set_security(app, remember_device_days=0)
    user = auth.login_as("admin")
    enrol(client)
    logout(client)
    password_step(client, user.username)
    assert "Remember this device" not in text(client.get("/auth/two-factor"))


def test_required_two_factor_forces_enrolment_before_anything_else(app, client, make_user):
    set_security(app, require_2fa_operator=True)
    user = make_user("operator")
    first = password_step(client, user.username, next_url="/vouchers/")
    assert first.status_code == 302 and first.headers["Location"] == "/auth/two-factor/enrol"
    for url in ("/", "/account/", "/vouchers/"):
        assert client.get(url).headers["Location"].startswith("/auth/login")
    page = text(client.get("/auth/two-factor/enrol"))
    assert "requires a second factor" in page and "<svg" in page
    secret = shown_secret(page)
    wrong = client.post("/auth/two-factor/enrol", data={"csrf_token": csrf_from(page), "code": "12345x"})
    assert wrong.status_code == 422 and client.get("/").status_code == 302
    done = client.post("/auth/two-factor/enrol", data={"csrf_token": csrf_from(page), "code": code(secret)})
    assert done.status_code == 200 and len(shown_codes(done.get_data(as_text=True))) == 10
    assert 'href="/vouchers/"' in done.get_data(as_text=True)  # "I have saved them" goes where they were heading
    assert client.get("/").status_code == 200
    # Resellers are never forced; admins only when their own switch is on.
    reseller = make_user("reseller")
    other = AuthActions(app.test_client(), None)
    assert other.login(reseller.username).headers["Location"] == "/"


def test_disable_needs_the_password_and_a_code(app, client, auth):
    user = auth.login_as("operator")
    secret, _ = enrol(client)
    page = client.get("/account/two-factor/disable").get_data(as_text=True)
    token = csrf_from(page)
    bad = client.post("/account/two-factor/disable", data={"csrf_token": token, "password": "wrong-password-1",
                                                           "code": code(secret, 1)})
    assert bad.status_code == 422 and "The password is not right." in text(bad)
    bad_code = client.post("/account/two-factor/disable", data={"csrf_token": token, "password": TEST_PASSWORD,
                                                                "code": "000000x"})
    assert bad_code.status_code == 422 and "That code is not right." in text(bad_code)
    ok = client.post("/account/two-factor/disable", data={"csrf_token": token, "password": TEST_PASSWORD,
                                                          "code": code(secret, 1)})
    assert ok.status_code == 302
    assert "Set up two-factor login" in text(client.get("/account/"))
    logout(client)
    assert password_step(client, user.username).headers["Location"] == "/"
    assert len(audit_actions(app, "2fa.disable")) == 1


def test_new_recovery_codes_replace_the_old_ones(app, client, auth):
    user = auth.login_as("operator")
    secret, old = enrol(client)
    page = client.get("/account/two-factor/codes").get_data(as_text=True)
    refused = client.post("/account/two-factor/codes", data={"csrf_token": csrf_from(page), "code": "12345x"})
    assert refused.status_code == 422
    made = client.post("/account/two-factor/codes", data={"csrf_token": csrf_from(page), "code": code(secret, 1)})
    new = shown_codes(made.get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    logout(client)
    password_step(client, user.username)
    assert factor_step(client, old[1]).status_code == 422
    assert factor_step(client, new[1]).status_code == 302
    assert len(audit_actions(app, "2fa.recovery_codes")) == 1


def test_admin_resets_a_lost_second_factor_with_confirmation_and_the_sessions_end(app, client, auth, make_user):
    admin = auth.login_as("admin")
    victim = make_user("admin")
    victim_client = app.test_client()
    AuthActions(victim_client, None).login(victim.username)
    secret, _ = enrol(victim_client)
    assert victim_client.get("/").status_code == 200

    edit = text(client.get(f"/settings/users/{victim.id}"))
    assert 'data-test="reset-2fa"' in edit
    confirm = client.get(f"/settings/users/{victim.id}/reset-2fa")
    assert confirm.status_code == 200 and "Reset two-factor login of" in text(confirm)
    done = client.post(f"/settings/users/{victim.id}/reset-2fa", data={"csrf_token": csrf_from(confirm.get_data(as_text=True))})
    assert done.status_code == 302
    assert "Two-factor login of " + victim.username + " reset" in text(client.get(done.headers["Location"]))
    assert victim_client.get("/").status_code == 302  # their session ended
    assert [(a[0], a[1], a[2]) for a in audit_actions(app, "2fa.reset")] == [(admin.id, "users", victim.id)]
    # The victim logs in with the password alone now.
    assert password_step(victim_client, victim.username).headers["Location"] == "/"


def test_an_admin_cannot_reset_their_own_second_factor_from_the_users_pages(app, client, auth):
    admin = auth.login_as("admin")
    enrol(client)
    assert 'data-test="reset-2fa"' not in text(client.get(f"/settings/users/{admin.id}"))
    response = client.post(f"/settings/users/{admin.id}/reset-2fa", data={"csrf_token": auth.token()})
    assert response.status_code == 302
    assert "cannot reset your own" in text(client.get("/"))
    assert audit_actions(app, "2fa.reset") == []


def test_non_admins_cannot_reset_anyones_second_factor(app, client, auth, make_user):
    auth.login_as("operator")
    target = make_user("operator")
    response = client.post(f"/settings/users/{target.id}/reset-2fa", data={"csrf_token": auth.token()})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert audit_actions(app, "2fa.reset") == []


def test_cli_reset_for_the_last_admin_locked_out(app, client, auth):
    user = auth.login_as("admin")
    enrol(client)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "reset-2fa", user.username])
    assert result.exit_code == 0, result.output
    assert "reset" in result.output
    assert client.get("/").status_code == 302  # the session ended
    assert password_step(client, user.username).headers["Location"] == "/"
    entries = audit_actions(app, "2fa.reset")
    assert len(entries) == 1 and entries[0][4] == "cli" and entries[0][0] is None
    missing = runner.invoke(args=["users", "reset-2fa", "nobody-here"])
    assert missing.exit_code != 0 and "No account" in missing.output
    again = runner.invoke(args=["users", "reset-2fa", user.username])
    assert again.exit_code != 0 and "no two-factor login" in again.output


def test_the_totp_secret_is_encrypted_at_rest_and_codes_are_hashed(app, client, auth):
    from isp.extensions import db
    from isp.models import RecoveryCode, User

    user = auth.login_as("admin")
    secret, codes = enrol(client)
    with app.app_context():
        row = db.session.get(User, user.id)
        assert row.totp_secret and secret not in row.totp_secret
        hashes = db.session.scalars(db.select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)).all()
        assert len(hashes) == 10 and not any(c.replace("-", "") in h for c in codes for h in hashes)


def test_codes_cannot_be_guessed_on_the_account_pages_either(app, client, auth):
    auth.login_as("operator")
    secret, _ = enrol(client)
    page = client.get("/account/two-factor/codes").get_data(as_text=True)
    statuses = [client.post("/account/two-factor/codes", data={"csrf_token": csrf_from(page), "code": "12345x"}).status_code
                for _ in range(5)]
    assert statuses == [422] * 5
    blocked = client.post("/account/two-factor/codes", data={"csrf_token": csrf_from(page), "code": code(secret, 1)})
    assert blocked.status_code == 429 and "Wait" in text(blocked) and not shown_codes(blocked.get_data(as_text=True))
    assert audit_actions(app, "2fa.recovery_codes") == []


def test_a_login_half_way_through_its_second_factor_restarts_after_an_admin_reset(app, client, auth, make_user):
    auth.login_as("admin")
    victim = make_user("operator")
    victim_client = app.test_client()
    AuthActions(victim_client, None).login(victim.username)
    enrol(victim_client)
    logout(victim_client)
    assert password_step(victim_client, victim.username).headers["Location"] == "/auth/two-factor"
    listing = text(client.get("/settings/users/?q=" + victim.username))
    assert '<td data-label="Two-factor">On</td>' in listing
    confirm = client.get(f"/settings/users/{victim.id}/reset-2fa").get_data(as_text=True)
    client.post(f"/settings/users/{victim.id}/reset-2fa", data={"csrf_token": csrf_from(confirm)})
    stale = victim_client.get("/auth/two-factor")
    assert stale.status_code == 302 and stale.headers["Location"] == "/auth/login"
    assert "Your login timed out" in text(victim_client.get("/auth/login"))
    assert '<td data-label="Two-factor">Off</td>' in text(client.get("/settings/users/?q=" + victim.username))


def test_turning_remember_off_or_shorter_stops_devices_remembered_before(app, client, auth):
    from datetime import timedelta

    from isp.extensions import db
    from isp.models.security import TrustedDevice

    user = auth.login_as("admin")
    secret, _ = enrol(client)
    logout(client)
    password_step(client, user.username)
    assert factor_step(client, code(secret, 1), remember=True).status_code == 302
    logout(client)
    assert password_step(client, user.username).headers["Location"] == "/"  # remembered (30 days)
    logout(client)
    with app.app_context():  # remembered 10 days ago, then the setting drops to 7 days
        device = db.session.scalars(db.select(TrustedDevice)).one()
        device.created_at = device.created_at - timedelta(days=10)
        db.session.commit()
    set_security(app, remember_device_days=7)
    assert password_step(client, user.username).headers["Location"] == "/auth/two-factor"  # half-way: not logged in
    set_security(app, remember_device_days=30)
    assert password_step(client, user.username).headers["Location"] == "/"
    logout(client)
    set_security(app, remember_device_days=0)  # the option turned off
    assert password_step(client, user.username).headers["Location"] == "/auth/two-factor"


def test_a_code_in_other_scripts_digits_is_refused_not_a_crash(client, auth):
    user = auth.login_as("admin")
    enrol(client)
    logout(client)
    password_step(client, user.username)
    for typed in ("\u0661\u0662\u0663\u0664\u0665\u0666", "\uff11\uff12\uff13\uff14\uff15\uff16"):
        answer = factor_step(client, typed)
        assert answer.status_code == 422
        assert "That code is not right" in text(answer)


def test_two_factor_cannot_be_turned_off_while_the_role_requires_it(app, client, auth):
    user = auth.login_as("admin")
    secret, _ = enrol(client)
    set_security(app, require_2fa_admin=True)
    page = client.get("/account/two-factor/disable").get_data(as_text=True)
    answer = client.post("/account/two-factor/disable", data={"csrf_token": csrf_from(page), "password": TEST_PASSWORD,
                                                              "code": code(secret)})
    assert answer.status_code == 422 and "required for admin accounts" in text(answer)
    from isp.extensions import db
    from isp.models import User

    with app.app_context():
        assert db.session.get(User, user.id).has_two_factor  # still on
