"""Uploaded logos (raster only, served safely), downloads as attachments, and the per-user limit on exports and
print pages."""
import io
import re

import pytest

from isp.extensions import db
from isp.services import branding
from tests.conftest import AuthActions
from tests.web.test_settings import _png

SVG = b"<?xml version='1.0'?><svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'><script>alert(2)</script></svg>"


def _status(client, path: str) -> int:
    """GET path and read the whole answer (a streamed CSV holds its database read open until consumed)."""
    response = client.get(path)
    response.get_data()
    response.close()
    return response.status_code


def _upload(client, token, data: bytes, name: str, mimetype: str):
    return client.post("/settings/", data={"csrf_token": token, "business_name": "Sunrise", "currency": "KES",
                                           "expiry_action": "remove", "logo": (io.BytesIO(data), name, mimetype)},
                       content_type="multipart/form-data")


@pytest.mark.parametrize("payload,name", [(SVG, "logo.svg"), (b"<html><script>x</script></html>", "logo.png"),
                                          (b"%PDF-1.7 not an image", "logo.jpg")])
def test_an_svg_or_any_non_raster_logo_is_refused_with_a_message(app, client, auth, payload, name):
    auth.login_as("admin")
    response = _upload(client, auth.token(), payload, name, "image/svg+xml" if name.endswith("svg") else "image/png")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "The logo must be a PNG, JPEG, GIF or WebP image (SVG is not accepted)." in html
    with app.app_context():
        row = branding.get()
        assert row.logo is None and row.business_name == ""  # nothing of the form saved


def test_a_png_logo_is_served_inline_with_its_sniffed_type_nosniff_and_a_sandbox(app, client, auth):
    auth.login_as("admin")
    png = _png()
    assert _upload(client, auth.token(), png, "photo.gif", "image/gif").status_code == 302  # the name lies; bytes rule
    served = client.get("/settings/logo")
    assert served.status_code == 200 and served.data == png and served.mimetype == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Disposition"] == 'inline; filename="logo.png"'
    assert "sandbox" in served.headers["Content-Security-Policy"] and "default-src 'none'" in served.headers["Content-Security-Policy"]


def test_a_stored_logo_that_is_not_a_raster_image_is_never_served(app, client, auth):
    with app.app_context():
        row = branding.get()
        row.logo, row.logo_mime = SVG, "image/svg+xml"  # a row from before the check, or written behind the panel's back
        db.session.commit()
    auth.login_as("admin")
    assert client.get("/settings/logo").status_code == 404


@pytest.mark.parametrize("path", ["/vouchers/export.csv", "/billing/invoices.csv", "/billing/payments.csv",
                                  "/billing/debt.csv", "/imports/export/customers.csv", "/imports/export/services.csv",
                                  "/reports/sales.csv", "/alerts/alerts.csv", "/imports/sample.csv"])
def test_every_download_is_an_attachment(client, auth, path):
    auth.login_as("admin")
    response = client.get(path)
    response.get_data()
    response.close()
    assert response.status_code == 200, path
    assert re.fullmatch(r'attachment; filename="[A-Za-z0-9._-]+"', response.headers["Content-Disposition"])
    assert response.headers["X-Content-Type-Options"] == "nosniff" and "no-store" in response.headers["Cache-Control"]


def test_exports_are_limited_per_user_with_the_wait_shown(app, client, auth, make_user):
    app.config["EXPORT_RATE_LIMIT"] = "3 per minute"
    auth.login_as("operator")
    # one budget for every export of this user
    for path in ("/vouchers/export.csv", "/billing/invoices.csv", "/imports/export/customers.csv"):
        assert _status(client, path) == 200, path
    refused = client.get("/billing/debt.csv")
    text = refused.get_data(as_text=True)
    assert refused.status_code == 429 and re.search(r"Wait \d+ seconds", text)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert _status(client, "/vouchers/") == 200  # ordinary pages are not counted
    # another user has their own budget
    other = app.test_client()
    AuthActions(other, make_user).login(make_user("operator").username)
    assert _status(other, "/reports/sales.csv") == 200


def test_print_pages_have_their_own_budget(app, client, auth, make_user, make_router, make_plan, generate, fund, allow):
    app.config["EXPORT_RATE_LIMIT"] = "2 per minute"
    reseller = make_user("reseller")
    plan = make_plan([make_router().id], reseller_price="2.00")
    allow(reseller.id, plan.id)
    fund(reseller.id, "10.00")
    batch_id = generate(reseller.id, plan.id, 2)
    AuthActions(client, make_user).login(reseller.username)
    assert _status(client, "/vouchers/export.csv") == 200  # the export budget is separate
    assert _status(client, f"/vouchers/batches/{batch_id}/print") == 200
    assert _status(client, f"/vouchers/batches/{batch_id}/print") == 200
    refused = client.get(f"/vouchers/batches/{batch_id}/print")
    assert refused.status_code == 429 and "Wait" in refused.get_data(as_text=True)
    assert _status(client, "/vouchers/export.csv") == 200
