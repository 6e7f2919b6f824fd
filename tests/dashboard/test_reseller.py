"""A reseller's dashboard: their balance, unsold stock by plan and sales, nobody else's, and no fleet or alerts."""
from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select

from isp.extensions import db
from isp.models import Voucher, VoucherState
from tests.dashboard.conftest import HX


def _card(html: str, name: str) -> str:
    block = re.search(rf'data-test="{name}">(.*?)</div>', html, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", " ", block).split())


def _use(app, batch_id: int, n: int) -> None:
    """The batch's first n vouchers are used now."""
    with app.app_context():
        for voucher in db.session.scalars(select(Voucher).where(Voucher.batch_id == batch_id).order_by(Voucher.id).limit(n)):
            voucher.first_login_at, voucher.state = datetime.now(UTC), VoucherState.active
        db.session.commit()


def test_reseller_sees_only_their_balance_stock_and_sales(client, auth, app, make_user, make_router, make_plan,
                                                            generate, fund, allow, rows):
    rita, omar = make_user("reseller", username="rita"), make_user("reseller", username="omar")
    router = make_router()
    gold = make_plan([router.id], name="Gold", price="25.50", reseller_price="20.00")
    basic = make_plan([router.id], name="Basic", price="10.00", reseller_price="8.00")
    for reseller in (rita, omar):
        allow(reseller.id, gold.id)
        allow(reseller.id, basic.id)
        fund(reseller.id, "500.00")
    _use(app, generate(rita.id, gold.id, 4), 2)      # rita: paid 80.00, 2 used (51.00), 2 left
    generate(rita.id, basic.id, 3)                   # rita: paid 24.00, 3 left
    _use(app, generate(omar.id, gold.id, 5), 3)      # omar: 3 used (76.50), 2 left
    with app.app_context():  # staff figures that must not leak to a reseller
        rule = rows.rule()
        rows.alert(rule, rows.router("secret-core"), "critical", message="core down")
        db.session.commit()
    auth.login("rita")
    html = client.get("/").get_data(as_text=True)
    assert _card(html, "balance") == "Balance 396.00"                 # 500 - 80 - 24
    assert _card(html, "stock-total") == "Unsold vouchers 5"
    stock = [" ".join(re.sub(r"<[^>]+>", " ", tr).split()) for tr in re.findall(r'data-test="stock-row">(.*?)</tr>', html, re.S)]
    assert stock == ["Basic 3", "Gold 2"]
    assert _card(html, "sales-today") == "Sold today 51.00 2 vouchers used"
    assert _card(html, "sales-month") == "This month 51.00 2 vouchers used"
    assert "76.50" not in html and "127.50" not in html               # omar's sales, alone or summed in
    for staff_only in ("Fleet", "Open alerts", "secret-core", "core down", "Pipeline", "Users online", "Recent activity"):
        assert staff_only not in html
    fragment = client.get("/", headers=HX).get_data(as_text=True)
    assert "<html" not in fragment and 'data-test="balance"' in fragment and "secret-core" not in fragment


def test_reseller_without_vouchers_sees_zeros(client, auth):
    auth.login_as("reseller")
    html = client.get("/").get_data(as_text=True)
    assert _card(html, "balance") == "Balance 0.00"
    assert "No unsold vouchers." in html and _card(html, "sales-month") == "This month 0.00 0 vouchers used"
