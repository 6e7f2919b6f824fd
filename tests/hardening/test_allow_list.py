"""Settings → Security: per-role staff IP allow-lists (enforced on every request and at login), no self-lockout,
clear refusals for bad entries, and the 2FA and remembered-device switches, each change audited with a diff."""
import json

from isp.extensions import db
from isp.models import AuditEntry, Branding
from isp.services import security_settings
from tests.conftest import TEST_PASSWORD, AuthActions, csrf_from

ADMIN_IP, OFFICE, OUTSIDE = "10.20.0.5", "10.20.0.0/16", "198.51.100.7"


def _form(token: str, **values) -> dict:
    data = {"csrf_token": token, "remember_device_days": "30", "allow_cidrs_admin": "", "allow_cidrs_operator": "",
            "allow_cidrs_reseller": ""}
    data.update(values)
    return data


def _settings(app) -> dict:
    with app.app_context():
        row = db.session.get(Branding, 1)
        return {name: getattr(row, name) for name in security_settings.FIELDS} if row else {}


def _audits(app) -> list[AuditEntry]:
    with app.app_context():
        return list(db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == "settings.security")))


def _admin(client, auth):
    client.environ_base["REMOTE_ADDR"] = ADMIN_IP
    auth.login_as("admin")
    return csrf_from(client.get("/settings/").get_data(as_text=True))


def test_admin_saves_lists_and_switches_with_an_audited_diff(app, client, auth):
    token = _admin(client, auth)
    page = client.get("/settings/").get_data(as_text=True)
    assert 'id="security"' in page and f"Your address now is {ADMIN_IP}" in page
    response = client.post("/settings/security", data=_form(
        token, require_2fa_admin="y", remember_device_days="14", allow_cidrs_admin=f"{OFFICE}, 2001:db8::/32",
        allow_cidrs_operator="192.0.2.1\n10.20.0.0/16 10.20.0.0/16"))
    assert response.status_code == 302 and response.headers["Location"].endswith("/settings/#security")
    stored = _settings(app)
    assert stored["require_2fa_admin"] is True and stored["require_2fa_operator"] is False
    assert stored["remember_device_days"] == 14
    assert stored["allow_cidrs_admin"] == f"{OFFICE}\n2001:db8::/32"
    assert stored["allow_cidrs_operator"] == "192.0.2.1/32\n10.20.0.0/16"  # canonical, duplicates dropped
    [entry] = _audits(app)
    changes = json.loads(entry.changes)
    assert changes["require_2fa_admin"] == [False, True] and changes["remember_device_days"] == [30, 14]
    assert changes["allow_cidrs_operator"] == ["", "192.0.2.1/32\n10.20.0.0/16"]
    assert entry.ip == ADMIN_IP and entry.target_type == "branding"
    shown = client.get("/settings/").get_data(as_text=True)
    assert "Security settings saved." in shown and "192.0.2.1/32" in shown


def test_a_list_that_would_lock_out_the_admin_is_refused_and_nothing_saved(app, client, auth):
    token = _admin(client, auth)
    response = client.post("/settings/security", data=_form(token, require_2fa_operator="y",
                                                            allow_cidrs_admin="192.0.2.0/24",
                                                            allow_cidrs_operator="192.0.2.0/24"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f"Your own address {ADMIN_IP} is not in the new admin list" in html
    assert _settings(app) == {} or (_settings(app)["allow_cidrs_admin"] == "" and not _settings(app)["require_2fa_operator"])
    assert _settings(app) == {} or _settings(app)["allow_cidrs_operator"] == ""
    assert _audits(app) == []
    assert client.get("/").status_code == 200  # still in


def test_a_bad_entry_is_refused_by_name(app, client, auth):
    token = _admin(client, auth)
    for field, text, bad in (("allow_cidrs_operator", "10.0.0.0/8, 10.1.2.300", "10.1.2.300"),
                             ("allow_cidrs_reseller", "192.0.2.0/33", "192.0.2.0/33"),
                             ("allow_cidrs_admin", f"{OFFICE} office-wifi", "office-wifi")):
        response = client.post("/settings/security", data=_form(token, **{field: text}))
        html = response.get_data(as_text=True)
        assert response.status_code == 422 and f"&#39;{bad}&#39; is not an IP address or CIDR block" in html, field
    days = client.post("/settings/security", data=_form(token, remember_device_days="400"))
    assert days.status_code == 422 and "from 0 to 365" in days.get_data(as_text=True)
    assert _audits(app) == []
    assert _settings(app) == {} or _settings(app)["allow_cidrs_operator"] == ""


def test_only_admins_change_security_settings(app, client, auth):
    auth.login_as("operator")
    response = client.post("/settings/security", data=_form(auth.token(), allow_cidrs_operator="10.0.0.0/8"))
    assert response.status_code in (302, 403)
    assert _audits(app) == []


def _restrict(app, **lists):
    with app.app_context():
        from isp.services import branding

        row = branding.get()
        for role, text in lists.items():
            setattr(row, f"allow_cidrs_{role}", text)
        db.session.commit()


def test_a_staff_member_outside_their_list_gets_403_and_inside_works(app, client, auth, make_user):
    operator = make_user("operator")
    client.environ_base["REMOTE_ADDR"] = "10.20.1.9"
    assert AuthActions(client, make_user).login(operator.username).status_code == 302
    _restrict(app, operator=OFFICE)
    assert client.get("/vouchers/").status_code == 200  # inside the list

    client.environ_base["REMOTE_ADDR"] = OUTSIDE
    page = client.get("/vouchers/")
    assert page.status_code == 403
    assert f"Your address {OUTSIDE} is not allowed for operator accounts" in page.get_data(as_text=True)
    # htmx swaps no 403 here: a search or poll from outside reloads the page the user is on, which explains
    fragment = client.get("/vouchers/?q=a", headers={"HX-Request": "true",
                                                      "HX-Current-URL": "http://panel.example/vouchers/?q=a"})
    assert fragment.status_code == 204 and fragment.headers["HX-Redirect"] == "/vouchers/?q=a"
    as_json = client.get("/customers/", headers={"Accept": "application/json"})
    assert as_json.status_code == 403 and OUTSIDE in as_json.get_json()["message"]
    # probes and scrapers are not staff pages
    assert client.get("/health/live").status_code == 200
    # the other roles' lists do not apply to this operator
    _restrict(app, operator="", admin="192.0.2.0/24")
    assert client.get("/vouchers/").status_code == 200


def test_login_from_outside_the_list_is_refused_and_leaves_no_session(app, client, make_user):
    reseller = make_user("reseller")
    _restrict(app, reseller="192.0.2.0/24")
    client.environ_base["REMOTE_ADDR"] = OUTSIDE
    response = AuthActions(client, make_user).login(reseller.username)
    assert response.status_code == 403
    assert f"Your address {OUTSIDE} is not allowed for reseller accounts" in response.get_data(as_text=True)
    after = client.get("/vouchers/")
    assert after.status_code == 302 and "/auth/login" in after.headers["Location"]  # not logged in

    wrong = AuthActions(client, make_user).login(reseller.username, password="not-the-password")
    assert wrong.status_code == 422 and "not allowed" not in wrong.get_data(as_text=True)

    client.environ_base["REMOTE_ADDR"] = "192.0.2.44"
    assert AuthActions(client, make_user).login(reseller.username).status_code == 302
    assert client.get("/vouchers/").status_code == 200


def test_ip_allowed_helper(app, ctx):
    _restrict(app, admin="10.0.0.0/8\n2001:db8::/32")
    assert security_settings.ip_allowed("admin", "10.9.8.7") and security_settings.ip_allowed("admin", "2001:db8::1")
    assert not security_settings.ip_allowed("admin", "192.0.2.1") and not security_settings.ip_allowed("admin", "bogus")
    assert security_settings.ip_allowed("operator", "192.0.2.1")  # empty list: everyone


def test_a_boosted_login_from_outside_lands_on_the_login_form_with_the_message(app, client, make_user):
    operator = make_user("operator")
    _restrict(app, operator=OFFICE)
    client.environ_base["REMOTE_ADDR"] = OUTSIDE
    login = client.get("/auth/login")
    response = client.post("/auth/login", data={"username": operator.username, "password": TEST_PASSWORD,
                                                "csrf_token": csrf_from(login.get_data(as_text=True))},
                           headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/auth/login"
    page = client.get("/auth/login").get_data(as_text=True)
    assert f"Your address {OUTSIDE} is not allowed for operator accounts" in page
    assert client.get("/customers/").status_code == 302  # no session


def test_an_ipv4_client_seen_through_a_dual_stack_listener_matches_its_ipv4_entry():
    from isp.services import security_settings

    networks = security_settings.parse_cidrs("192.0.2.0/24")
    assert security_settings.ip_in("::ffff:192.0.2.9", networks)
    assert not security_settings.ip_in("::ffff:198.51.100.9", networks)
    assert not security_settings.ip_in("2001:db8::1", networks)
