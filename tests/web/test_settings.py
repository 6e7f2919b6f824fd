"""Settings page (admin): branding, expiry policy, logo upload and serving, hotspot DNS names per router."""
from __future__ import annotations

import io
import re
import struct
import zlib

import pytest

from isp.extensions import db
from isp.models import AuditEntry, Branding, Router
from isp.services import branding


def _png(width: int = 2, height: int = 1) -> bytes:
    """A real (tiny, grey) PNG image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _form(token: str, **fields) -> dict:
    data = {"csrf_token": token, "business_name": "Sunrise Wi-Fi", "currency": "KES", "expiry_action": "remove"}
    data.update(fields)
    return data


def _branding(app) -> Branding:
    with app.app_context():
        row = branding.get()
        db.session.expunge(row)
        return row


def _router(app, router_id) -> Router:
    with app.app_context():
        router = db.session.get(Router, router_id)
        db.session.expunge(router)
        return router


@pytest.mark.parametrize("role", ["operator", "reseller"])
def test_only_admins_reach_the_settings_page(app, client, auth, role):
    auth.login_as(role)
    token = auth.token()
    assert client.get("/settings/", headers={"HX-Request": "true"}).status_code == 403
    assert client.get("/settings/").status_code == 302  # a page visit is sent back with a message
    response = client.post("/settings/", data=_form(token, business_name="Hijacked"), headers={"HX-Request": "true"})
    assert response.status_code == 403
    assert _branding(app).business_name == ""


def test_admin_saves_branding_and_expiry_action_with_an_audit_trail(app, client, auth):
    auth.login_as("admin")
    page = client.get("/settings/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'href="/settings/users/"' in html and 'enctype="multipart/form-data"' in html
    response = client.post("/settings/", data=_form(auth.token(), business_name="  Sunrise Wi-Fi ", currency="KSh",
                                                    expiry_action="disable"))
    assert response.status_code == 302 and response.headers["Location"] == "/settings/"
    assert "Settings saved." in client.get("/settings/").get_data(as_text=True)
    row = _branding(app)
    assert (row.business_name, row.currency, row.expiry_action) == ("Sunrise Wi-Fi", "KSh", "disable")
    with app.app_context():
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "settings.update"))
        assert entry is not None and "business name" in entry.detail and "expiry action" in entry.detail


def test_csrf_token_is_required(app, client, auth):
    auth.login_as("admin")
    response = client.post("/settings/", data={"business_name": "No token", "currency": "", "expiry_action": "remove"})
    assert response.status_code == 400
    assert _branding(app).business_name == ""


def test_invalid_values_are_refused_with_messages(app, client, auth):
    auth.login_as("admin")
    token = auth.token()
    long_currency = client.post("/settings/", data=_form(token, currency="DOLLARS!!"))
    assert long_currency.status_code == 422 and "Currency: at most 8 characters." in long_currency.get_data(as_text=True)
    bad_action = client.post("/settings/", data=_form(token, expiry_action="explode"))
    assert bad_action.status_code == 422 and "Not a valid choice" in bad_action.get_data(as_text=True)
    assert _branding(app).business_name == ""


@pytest.mark.parametrize("payload,message", [
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "must be a PNG, JPEG, GIF or WebP"),
    (b"just some text pretending to be a PNG", "must be a PNG, JPEG, GIF or WebP"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * (512 * 1024), "larger than the limit of 512 KB"),
])
def test_bad_logos_are_rejected_and_nothing_is_saved(app, client, auth, payload, message):
    auth.login_as("admin")
    response = client.post("/settings/", data=_form(auth.token(), business_name="Changed",
                                                    logo=(io.BytesIO(payload), "logo.png", "image/png")),
                           content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and message in html
    assert "<script>alert(1)</script>" not in html
    row = _branding(app)
    assert row.logo is None and row.business_name == ""  # one transaction: the name is not saved either


def test_a_png_logo_is_stored_and_served_to_every_role(app, client, auth, make_user):
    from tests.conftest import AuthActions

    auth.login_as("admin")
    png = _png()
    response = client.post("/settings/", data=_form(auth.token(), logo=(io.BytesIO(png), "logo.bin", "text/plain")),
                           content_type="multipart/form-data")
    assert response.status_code == 302
    row = _branding(app)
    assert row.logo == png and row.logo_mime == "image/png"  # the type comes from the bytes, not the upload
    assert '<img src="/settings/logo?v=' in client.get("/settings/").get_data(as_text=True)

    served = client.get("/settings/logo")
    assert served.status_code == 200 and served.data == png and served.mimetype == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["ETag"] and "max-age=300" in served.headers["Cache-Control"]
    assert client.get("/settings/logo", headers={"If-None-Match": served.headers["ETag"]}).status_code == 304

    reseller = make_user("reseller")
    reseller_client = app.test_client()
    AuthActions(reseller_client, None).login(reseller.username)
    assert reseller_client.get("/settings/logo").data == png
    assert app.test_client().get("/settings/logo").status_code == 302  # anonymous: log in first


def test_removing_the_logo_and_no_logo_answer_404(app, client, auth):
    auth.login_as("admin")
    assert client.get("/settings/logo").status_code == 404
    token = auth.token()
    client.post("/settings/", data=_form(token, logo=(io.BytesIO(_png()), "logo.png")), content_type="multipart/form-data")
    assert client.get("/settings/logo").status_code == 200
    client.post("/settings/", data=_form(token, remove_logo="y"))
    assert _branding(app).logo is None
    assert client.get("/settings/logo").status_code == 404


def test_logo_types_are_recognised_by_magic_bytes():
    assert branding.logo_type(_png()) == "image/png"
    assert branding.logo_type(b"\xff\xd8\xff\xe0\x00\x10JFIF") == "image/jpeg"
    assert branding.logo_type(b"GIF89a\x01\x00") == "image/gif"
    assert branding.logo_type(b"RIFF\x24\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert branding.logo_type(b"<?xml version='1.0'?><svg/>") is None


def test_hotspot_dns_names_are_validated_and_saved_per_router(app, client, auth, make_router):
    auth.login_as("admin")
    core, branch = make_router(name="core"), make_router(name="branch")
    page = client.get("/settings/").get_data(as_text=True)
    assert f'name="dns_{core.id}"' in page and f'name="dns_{branch.id}"' in page
    token = auth.token()
    for bad in ("http://wifi.example.net/login", "wifi_example.net", "-wifi.example.net", "1.2.3", "wifi example"):
        response = client.post("/settings/", data=_form(token, business_name="Changed", **{f"dns_{core.id}": bad}))
        assert response.status_code == 422, bad
        assert "host name" in response.get_data(as_text=True)
    assert _router(app, core.id).hotspot_dns == "" and _branding(app).business_name == ""

    ok = client.post("/settings/", data=_form(token, **{f"dns_{core.id}": " WiFi.Example.NET ", f"dns_{branch.id}": "10.5.50.1"}))
    assert ok.status_code == 302
    assert _router(app, core.id).hotspot_dns == "wifi.example.net"
    assert _router(app, branch.id).hotspot_dns == "10.5.50.1"
    with app.app_context():
        assert db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "router.hotspot_dns",
                                                             AuditEntry.target == "core")) is not None

    client.post("/settings/", data=_form(token, **{f"dns_{core.id}": "", f"dns_{branch.id}": "10.5.50.1"}))
    assert _router(app, core.id).hotspot_dns == ""  # blank clears it


def test_every_invalid_field_is_reported_in_one_answer(app, client, auth, make_router):
    auth.login_as("admin")
    router = make_router()
    response = client.post("/settings/", data=_form(auth.token(), currency="TOO-LONG-1", **{
        f"dns_{router.id}": "wifi_bad", "logo": (io.BytesIO(b"<svg/>"), "logo.svg")}), content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "must be a PNG, JPEG, GIF or WebP" in html and "is not a host name" in html and "at most 8" in html


def test_security_section_keeps_its_stored_switches_when_another_section_is_refused(app, client, auth):
    auth.login_as("admin")  # before 2FA is required, which would send this login to enrolment
    with app.app_context():
        row = branding.get()
        row.require_2fa_admin, row.remember_device_days, row.allow_cidrs_reseller = True, 7, "192.0.2.0/24"
        db.session.commit()
    refused = client.post("/settings/billing", data={"csrf_token": auth.token(), "account_prefix": "bad prefix!",
                                                     "account_digits": "6", "default_grace_days": "3",
                                                     "suspend_mode": "disable"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    security = html.split('id="security"')[1]
    # the billing POST carries no security fields: they must not read as unticked or blank here
    box = re.search(r'<input[^>]*id="require_2fa_admin"[^>]*>', security).group(0)
    assert re.search(r"\bchecked\b", box), box
    assert 'value="7"' in security and "192.0.2.0/24" in security
    with app.app_context():
        assert branding.get().require_2fa_admin is True
