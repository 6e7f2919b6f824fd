"""Voucher print pages: four paper templates, escaping, QR codes that log in, chunked batches, reseller scoping."""
from __future__ import annotations

import dataclasses
import re
from urllib.parse import urlencode

import pytest
import segno

from isp.extensions import db
from isp.models import Router, Voucher, VoucherState
from isp.services import branding, printing

TEMPLATES = ("a4-qr", "a4-compact", "thermal-58", "thermal-80")
XSS = "<script>alert(1)</script>"
SVG_RE = re.compile(r'<svg viewBox="0 0 (\d+) (\d+)" class="qr-svg"><path[^>]* d="([^"]+)"/></svg>')


def _set_branding(app, name="Sunrise Wi-Fi", currency="KES", dns: dict | None = None):
    with app.app_context():
        row = branding.get()
        row.business_name, row.currency = name, currency
        for router_id, host in (dns or {}).items():
            db.session.get(Router, router_id).hotspot_dns = host
        db.session.commit()


def _vouchers(app, batch_id):
    """(id, code, password) of a batch, by id."""
    with app.app_context():
        return [(v.id, v.code, v.password) for v in db.session.scalars(
            db.select(Voucher).where(Voucher.batch_id == batch_id).order_by(Voucher.id))]


def _qr_matrix(match: re.Match) -> list[list[bool]]:
    """Rebuild the module matrix from segno's SVG path (rows of horizontal runs), quiet zone removed."""
    size = int(match.group(1))
    dark = [[False] * size for _ in range(size)]
    x = y = 0.0
    for op, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", match.group(3)):
        if op == "M":
            x, y = float(a), float(b)
        elif op == "m":
            x, y = x + float(a), y + float(b)
        else:  # h: a dark run of `a` modules on row y - 0.5
            for col in range(int(x), int(x + float(a))):
                dark[int(y)][col] = True
            x += float(a)
    rows = [i for i, row in enumerate(dark) if any(row)]
    border = rows[0] if rows else 0
    return [row[border:size - border] for row in dark[border:size - border]]


def _expected_matrix(url: str) -> list[list[bool]]:
    return [[bool(v) for v in row] for row in segno.make(url, error="m", micro=False).matrix]


@pytest.fixture
def admin_batch(app, auth, make_router, make_plan, generate):
    """An admin logged in, branding set, and a 5-voucher code-mode batch on a router with a hotspot DNS name."""
    admin = auth.login_as("admin")
    router = make_router()
    _set_branding(app, dns={router.id: "wifi.example.net"})
    plan = make_plan([router.id], name="Day Pass", price="50.00", validity="1d", time_quota="12h", data_quota="2G")
    return admin, router, plan, generate(admin.id, plan.id, 5)


@pytest.mark.parametrize("name", TEMPLATES)
def test_each_template_prints_every_code_with_plan_price_and_terms(app, client, admin_batch, name):
    batch_id = admin_batch[3]
    response = client.get(f"/vouchers/batches/{batch_id}/print?template={name}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html[:300]
    assert f"tpl-{name}" in html and 'href="/static/css/print.css"' in html
    assert 'class="sidebar"' not in html  # a standalone page, not the app shell
    for _, code, _ in _vouchers(app, batch_id):
        assert code in html
    assert html.count('class="card') == 5
    assert "Day Pass" in html and "KES 50" in html and "Sunrise Wi-Fi" in html
    assert "1 day" in html and "12 hours" in html and "2 GiB" in html
    assert 'class="pass' not in html and "Password" not in html  # code mode: the code is also the password
    assert response.headers["Cache-Control"] == "private, no-store"
    assert ("qr-svg" in html) == (name != "a4-compact")


@pytest.mark.parametrize("name", TEMPLATES)
def test_plan_and_business_names_are_escaped(app, client, auth, make_router, make_plan, generate, name):
    admin = auth.login_as("admin")
    router = make_router()
    _set_branding(app, name=f"Bad {XSS} Ltd", currency="<b>")
    plan = make_plan([router.id], name=f"Plan {XSS}")
    batch_id = generate(admin.id, plan.id, 2)
    html = client.get(f"/vouchers/batches/{batch_id}/print?template={name}").get_data(as_text=True)
    assert "Plan &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Bad &lt;script&gt;alert(1)&lt;/script&gt; Ltd" in html
    assert "&lt;b&gt; 10" in html
    assert "<script>" not in html and "<b>" not in html  # the payload never appears unescaped (app.js is a src script)


def test_qr_codes_encode_the_hotspot_login_url_of_each_voucher(app, client, admin_batch):
    batch_id = admin_batch[3]
    html = client.get(f"/vouchers/batches/{batch_id}/print").get_data(as_text=True)
    svgs = list(SVG_RE.finditer(html))
    vouchers = _vouchers(app, batch_id)
    assert len(svgs) == len(vouchers) == 5
    for match, (_, code, password) in zip(svgs, vouchers, strict=True):
        url = "http://wifi.example.net/login?" + urlencode({"username": code, "password": password})
        assert _qr_matrix(match) == _expected_matrix(url)
    assert "QR codes may not log in" not in html


def test_qr_codes_decode_with_zxing(app, client, admin_batch):
    import zxingcpp  # a real decoder, from requirements.txt
    batch_id = admin_batch[3]
    html = client.get(f"/vouchers/batches/{batch_id}/print?template=thermal-58").get_data(as_text=True)
    matrix = _qr_matrix(next(SVG_RE.finditer(html)))
    scale, quiet = 4, 4
    size = (len(matrix) + 2 * quiet) * scale
    pixels = bytearray(b"\xff" * size * size)
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                for dy in range(scale):
                    start = ((r + quiet) * scale + dy) * size + (c + quiet) * scale
                    pixels[start:start + scale] = b"\x00" * scale
    image = bytes(pixels)  # ImageView does not keep its buffer alive: hold a reference
    found = zxingcpp.read_barcodes(zxingcpp.ImageView(image, size, size, zxingcpp.ImageFormat.Lum))
    _, code, password = _vouchers(app, batch_id)[0]
    assert [b.text for b in found] == [f"http://wifi.example.net/login?username={code}&password={password}"]


def test_without_a_hotspot_dns_name_the_page_warns_and_uses_the_management_address(app, client, auth, make_router,
                                                                                 make_plan, generate):
    admin = auth.login_as("admin")
    router = make_router(addresses="10.9.8.7\n192.168.88.1")
    plan = make_plan([router.id])
    batch_id = generate(admin.id, plan.id, 1)
    html = client.get(f"/vouchers/batches/{batch_id}/print").get_data(as_text=True)
    assert "QR codes may not log in" in html and 'href="/settings/"' in html
    _, code, password = _vouchers(app, batch_id)[0]
    url = "http://10.9.8.7/login?" + urlencode({"username": code, "password": password})
    assert _qr_matrix(next(SVG_RE.finditer(html))) == _expected_matrix(url)


def test_login_url_encodes_credentials_and_brackets_ipv6():
    assert printing.login_url("wifi.example.net", "A&B", "p=q #") == \
        "http://wifi.example.net/login?username=A%26B&password=p%3Dq+%23"
    assert printing.login_url("fd00::1", "X", "Y") == "http://[fd00::1]/login?username=X&password=Y"


def test_userpass_mode_prints_the_password(app, client, auth, make_router, make_plan, generate):
    admin = auth.login_as("admin")
    router = make_router()
    plan = make_plan([router.id])
    batch_id = generate(admin.id, plan.id, 3, mode="userpass")
    for name in TEMPLATES:
        html = client.get(f"/vouchers/batches/{batch_id}/print?template={name}").get_data(as_text=True)
        for _, code, password in _vouchers(app, batch_id):
            assert code != password
            assert f">{code}</span>" in html and f">{password}</span>" in html
        assert html.count("Password</span>") == 3 and "Username" in html


def test_deleted_vouchers_are_left_out_and_cannot_be_reprinted(app, client, admin_batch):
    batch_id = admin_batch[3]
    rows = _vouchers(app, batch_id)
    with app.app_context():
        db.session.get(Voucher, rows[0][0]).state = VoucherState.deleted
        db.session.commit()
    html = client.get(f"/vouchers/batches/{batch_id}/print").get_data(as_text=True)
    assert rows[0][1] not in html and all(code in html for _, code, _ in rows[1:])
    assert html.index(rows[1][1]) < html.index(rows[2][1]) < html.index(rows[4][1])  # id order
    gone = client.get(f"/vouchers/{rows[0][0]}/print")
    assert gone.status_code == 404 and "was deleted" in gone.get_data(as_text=True)


def test_single_voucher_reprint_shows_only_that_voucher(app, client, admin_batch):
    rows = _vouchers(app, admin_batch[3])
    for name in TEMPLATES:
        response = client.get(f"/vouchers/{rows[2][0]}/print?template={name}")
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert rows[2][1] in html and rows[0][1] not in html and html.count('class="card') == 1


def test_unknown_template_is_refused_with_the_choices(app, client, admin_batch):
    batch_id = admin_batch[3]
    voucher_id = _vouchers(app, batch_id)[0][0]
    for url in (f"/vouchers/batches/{batch_id}/print?template=a5", f"/vouchers/{voucher_id}/print?template=<b>"):
        response = client.get(url)
        html = response.get_data(as_text=True)
        assert response.status_code == 400
        assert "There is no print template" in html and "a4-qr, a4-compact, thermal-58, thermal-80" in html
        assert "<b>" not in html


def test_large_batches_print_in_pages_of_whole_sheets(app, client, admin_batch, monkeypatch):
    monkeypatch.setitem(printing.TEMPLATES, "a4-qr", dataclasses.replace(printing.TEMPLATES["a4-qr"], chunk=2))
    batch_id = admin_batch[3]
    rows = _vouchers(app, batch_id)
    first = client.get(f"/vouchers/batches/{batch_id}/print").get_data(as_text=True)
    assert "Vouchers 1–2 of 5" in first and "Page 1 of 3" in first
    assert rows[0][1] in first and rows[1][1] in first and rows[2][1] not in first
    last = client.get(f"/vouchers/batches/{batch_id}/print?template=a4-qr&page=3").get_data(as_text=True)
    assert "Page 3 of 3" in last and rows[4][1] in last and rows[3][1] not in last
    beyond = client.get(f"/vouchers/batches/{batch_id}/print?page=99").get_data(as_text=True)
    assert "Page 3 of 3" in beyond  # clamped, never an empty page


def test_the_logo_is_linked_when_uploaded(app, client, admin_batch):
    batch_id = admin_batch[3]
    assert 'class="logo"' not in client.get(f"/vouchers/batches/{batch_id}/print").get_data(as_text=True)
    with app.app_context():
        row = branding.get()
        row.logo, row.logo_mime = b"\x89PNG\r\n\x1a\nfake", "image/png"
        db.session.commit()
    html = client.get(f"/vouchers/batches/{batch_id}/print?template=thermal-80").get_data(as_text=True)
    assert re.search(r'<img class="logo" src="/settings/logo\?v=[0-9a-f]{16}"', html)


def test_resellers_print_only_their_own_vouchers(app, client, auth, make_user, make_router, make_plan, generate,
                                                 allow, fund):
    router = make_router()
    plan = make_plan([router.id], name="Hour")
    owner, other = make_user("reseller"), make_user("reseller")
    for reseller in (owner, other):
        allow(reseller.id, plan.id)
        fund(reseller.id, "100")
    batch_id = generate(owner.id, plan.id, 3)
    voucher_id = _vouchers(app, batch_id)[0][0]

    auth.login(other.username)
    assert client.get(f"/vouchers/batches/{batch_id}/print").status_code == 404
    assert client.get(f"/vouchers/{voucher_id}/print").status_code == 404
    auth.logout()

    auth.login(owner.username)
    page = client.get(f"/vouchers/batches/{batch_id}/print")
    assert page.status_code == 200 and "Hour" in page.get_data(as_text=True)
    assert "Ask an administrator" in page.get_data(as_text=True)  # no hotspot DNS name, no settings link
    assert client.get(f"/vouchers/{voucher_id}/print?template=thermal-58").status_code == 200
    auth.logout()

    auth.login_as("operator")
    assert client.get(f"/vouchers/batches/{batch_id}/print").status_code == 200


def test_anonymous_visitors_are_sent_to_log_in(app, admin_batch):
    batch_id = admin_batch[3]
    response = app.test_client().get(f"/vouchers/batches/{batch_id}/print")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_labels_for_prices_and_durations():
    from decimal import Decimal

    assert printing.price_label(Decimal("50.00"), "KES") == "KES 50"
    assert printing.price_label(Decimal("1250.5"), "$") == "$1,250.50"
    assert printing.price_label(Decimal("0"), "KES") == "Free"
    assert printing.duration_label(86400) == "1 day" and printing.duration_label(129600) == "1 day 12 hours"
    assert printing.duration_label(5400) == "1 hour 30 min" and printing.duration_label(1209600) == "2 weeks"
    assert printing.duration_short(2592000) == "30d" and printing.duration_short(129600) == "1d 12h"


def test_a_boosted_link_loads_the_print_page_for_real(app, client, admin_batch):
    batch_id = admin_batch[3]
    url = f"/vouchers/batches/{batch_id}/print?template=thermal-58"
    boosted = client.get(url, headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert boosted.status_code == 204 and boosted.headers["HX-Redirect"] == url
    html = client.get(url).get_data(as_text=True)
    assert f'class="tb-back" href="/vouchers/batches/{batch_id}"' in html
