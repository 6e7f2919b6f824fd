"""Template filters as a user reads them: money in the operator's currency with the sign first, intervals in words."""
from __future__ import annotations

from decimal import Decimal

import pytest

from isp.services import branding
from isp.web.filters import every, format_money


@pytest.mark.parametrize(("value", "currency", "shown"), [
    (Decimal("-48.00"), "$", "-$48.00"),
    (Decimal("-48"), "KES", "-KES 48.00"),
    (Decimal("1250.5"), "$", "$1,250.50"),
    (Decimal("1250.5"), "KES", "KES 1,250.50"),
    (Decimal("-0.00"), "$", "$0.00"),  # no "negative zero"
    (Decimal("5"), "", "5.00"),
    (Decimal("-5"), " ", "-5.00"),
    (Decimal("-3.5"), "R$", "-R$ 3.50"),  # letters make it a code: spaced
    ("12.5", "€", "€12.50"),
    (None, "$", "—"),
])
def test_money_puts_the_sign_before_the_currency(value, currency, shown):
    assert format_money(value, currency) == shown


def _set_currency(app, currency: str) -> None:
    with app.app_context():
        branding.get().currency = currency
        from isp.extensions import db

        db.session.commit()


@pytest.mark.parametrize(("currency", "debit", "balance"), [("$", "-$48.00", "$52.00"), ("KES", "-KES 48.00", "KES 52.00")])
def test_reseller_ledger_shows_a_purchase_as_negative_money(app, client, auth, make_user, make_router, make_plan, fund,
                                                              allow, generate, currency, debit, balance):
    _set_currency(app, currency)
    shop = make_user("reseller", username="shop")
    router = make_router()
    plan = make_plan([router.id], price="2.00", reseller_price="1.60")
    allow(shop.id, plan.id)
    fund(shop.id, "100.00")
    generate(shop.id, plan.id, 30)  # 30 × 1.60 = 48.00
    auth.login_as("admin")
    html = client.get(f"/resellers/{shop.id}").get_data(as_text=True)
    assert debit in html and balance in html
    assert "$ -48" not in html and "- 48" not in html


def test_money_without_a_currency_is_a_plain_amount(app, client, auth, make_router, make_plan):
    _set_currency(app, "")
    router = make_router()
    make_plan([router.id], name="Plain", price="10.00", reseller_price="8.00")
    auth.login_as("admin")
    html = client.get("/plans/").get_data(as_text=True)
    assert ">10.00<" in html and ">8.00<" in html


@pytest.mark.parametrize(("seconds", "words"), [(10, "every 10 s"), (60, "every minute"), (300, "every 5 min"),
                                                (90, "every 90 s"), (3600, "every hour"), (7200, "every 2 h")])
def test_intervals_in_words(seconds, words):
    assert every(seconds) == words
