"""The Billing section of Settings (admin): numbering, grace, suspension mode, reminders, agents' commission."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from isp.extensions import db as _db
from isp.models import AuditEntry, Subscription
from isp.services import billing, branding, periods

GOOD = {"account_prefix": "NET-", "account_digits": "5", "invoice_prefix": "F-", "receipt_prefix": "R-",
        "default_grace_days": "7", "suspend_mode": "restrict", "reminder_days": " 1, 5 ,3", "agent_commission_percent": "7.5"}


def _saved(app):
    with app.app_context():
        row = branding.get()
        return {k: getattr(row, k) for k in GOOD}


def test_admin_saves_billing_settings_and_they_take_effect(app, client, auth, bill):
    auth.login_as("admin")
    page = client.get("/settings/").get_data(as_text=True)
    assert 'data-test="billing-settings"' in page and "payment notice" in page and "cannot connect" in page
    response = client.post("/settings/billing", data={"csrf_token": auth.token(), **GOOD})
    assert response.status_code == 302 and response.headers["Location"] == "/settings/#billing"
    assert _saved(app) == {"account_prefix": "NET-", "account_digits": 5, "invoice_prefix": "F-", "receipt_prefix": "R-",
                           "default_grace_days": 7, "suspend_mode": "restrict", "reminder_days": "5,3,1",
                           "agent_commission_percent": Decimal("7.50")}
    with app.app_context():
        assert "grace days" in _db.session.scalar(_db.select(AuditEntry.detail).where(AuditEntry.action == "settings.billing"))

    # New numbers use the new prefixes; grace uses the new default.
    customer = bill.customer()
    plan = bill.plan("10.00", "day", 30)
    now = periods.second()
    sub_id = bill.service(customer, plan, period_start=now - timedelta(days=30), paid_until=now)
    with app.app_context():
        assert billing.run(now)["grace"] == 1
        _db.session.commit()
        assert _db.session.get(Subscription, sub_id).grace_until == now + timedelta(days=7)
        payment = billing.record_payment(_db.session.get(billing.Customer, customer), "5.00", "cash", "", "", bill.user())
        _db.session.commit()
        assert payment.number == f"R-{now.year}-000001"
        assert _db.session.get(billing.Customer, customer).account_no == "NET-00001"


@pytest.mark.parametrize("field,value,message", [
    ("account_prefix", "IS P", "Account prefix: up to 16"),
    ("account_digits", "2", "Account digits: a whole number from 3 to 12"),
    ("default_grace_days", "-1", "Grace days: a whole number from 0 to 90"),
    ("suspend_mode", "explode", "Not a valid choice"),
    ("reminder_days", "3,tomorrow", "Reminder days: whole days from 0 to 90"),
    ("agent_commission_percent", "101", "Agent commission: a percentage from 0 to 100"),
    ("receipt_prefix", "F-", "Give receipts a prefix of their own"),
])
def test_bad_billing_settings_are_refused_with_a_message(app, client, auth, field, value, message):
    auth.login_as("admin")
    before = _saved(app)
    response = client.post("/settings/billing", data={"csrf_token": auth.token(), **GOOD, field: value})
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert _saved(app) == before


@pytest.mark.parametrize("role", ["operator", "reseller"])
def test_only_admins_change_billing_settings(app, client, auth, role):
    auth.login_as(role)
    response = client.post("/settings/billing", data={"csrf_token": auth.token(), **GOOD}, headers={"HX-Request": "true"})
    assert response.status_code == 403 and _saved(app)["invoice_prefix"] == "INV-"
