"""Billing pages: lists and filters, payment form with its preview, receipts and invoices in three paper sizes, CSV,
corrections and the plan change with figures shown before confirming."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from isp.extensions import db as _db
from isp.models import Customer, Invoice, Payment, Subscription
from isp.services import billing, lifecycle, periods
from tests.billing.conftest import balance
from tests.conftest import csrf_from


def _pending_customer(app, bill, price="3000.00", name="Alice Wanjiru", reseller_id=None):
    plan = bill.plan(price, "day", 30)
    customer = bill.customer(name, reseller_id=reseller_id)
    sub_id = bill.service(customer, plan, state="pending")
    with app.app_context():
        lifecycle.start(_db.session.get(Subscription, sub_id), bill.user())
        _db.session.commit()
    return customer, sub_id, plan


def test_taking_a_payment_shows_what_it_settles_then_prints_the_receipt(app, client, auth, bill):
    customer, sub_id, _plan = _pending_customer(app, bill)
    auth.login_as("operator")
    page = client.get(f"/billing/customers/{customer}/payments/new")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "-3,000.00" in html and 'data-covered="no"' in html
    preview = client.get(f"/billing/customers/{customer}/payments/new?amount=3000", headers={"HX-Request": "true"})
    assert 'data-covered="yes"' in preview.get_data(as_text=True) and "<html" not in preview.get_data(as_text=True)

    response = client.post(f"/billing/customers/{customer}/payments/new",
                           data={"csrf_token": csrf_from(html), "amount": "3,000.00", "method": "mobile",
                                 "reference": "QK7X2B9", "note": "June"})
    assert response.status_code == 302 and "/receipt" in response.headers["Location"]
    receipt = client.get(response.headers["Location"])
    text = receipt.get_data(as_text=True)
    assert receipt.status_code == 200 and "QK7X2B9" in text and "3,000.00" in text and "recorded" in text
    with app.app_context():
        assert _db.session.get(Subscription, sub_id).state.value == "active" and balance(customer) == "0.00"
        number = _db.session.scalar(select(Payment.number))
    assert number in text
    for paper in ("a4", "80", "58"):
        assert client.get(response.headers["Location"] + f"?format={paper}").status_code == 200
    assert client.get(response.headers["Location"] + "?format=letter").status_code == 400

    again = client.post(f"/billing/customers/{customer}/payments/new",
                        data={"csrf_token": csrf_from(html), "amount": "10", "method": "mobile", "reference": "QK7X2B9"})
    assert again.status_code == 422 and f"already recorded on receipt {number}" in again.get_data(as_text=True)


def test_lists_filter_in_sql_and_export_csv(app, client, auth, bill):
    alice, _s, _p = _pending_customer(app, bill, name="Alice")
    bob, _s2, _p2 = _pending_customer(app, bill, name="Bob")
    with app.app_context():
        billing.record_payment(_db.session.get(Customer, alice), "100.00", "cash", "", "", bill.user())
        billing.record_payment(_db.session.get(Customer, bob), "200.00", "bank", "FT-9", "", bill.user())
        _db.session.commit()
        bob_no = _db.session.get(Customer, bob).account_no
    auth.login_as("operator")
    invoices = client.get("/billing/").get_data(as_text=True)
    assert "Alice" in invoices and "Bob" in invoices
    only_bob = client.get(f"/billing/?tab=invoices&q={bob_no}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Bob" in only_bob and "Alice" not in only_bob
    bank = client.get("/billing/?tab=payments&method=bank").get_data(as_text=True)
    assert "FT-9" in bank and "Alice" not in bank
    today = periods.second().date()
    future = client.get(f"/billing/?tab=payments&date_from={today + timedelta(days=2)}").get_data(as_text=True)
    assert "Nothing matches these filters" in future
    assert client.get("/billing/?tab=payments&method=bogus&date_from=yesterday&page=99999999999").status_code == 200

    rows = list(csv.reader(io.StringIO(client.get("/billing/payments.csv?method=bank").get_data(as_text=True))))
    assert rows[0][0] == "receipt" and len(rows) == 2 and rows[1][2] == bob_no and rows[1][4] == "200.00"
    inv = list(csv.reader(io.StringIO(client.get("/billing/invoices.csv").get_data(as_text=True))))
    assert len(inv) == 3 and {r[9] for r in inv[1:]} == {"3000.00"}
    debt = list(csv.reader(io.StringIO(client.get("/billing/debt.csv").get_data(as_text=True))))
    assert [(r[1], r[3], r[6]) for r in debt[1:]] == [("Alice", "-2900.00", "0-30"), ("Bob", "-2800.00", "0-30")]


def test_invoices_are_never_edited_a_credit_note_corrects_them(app, client, auth, bill):
    customer, _sub, _plan = _pending_customer(app, bill, price="1200.00")
    with app.app_context():
        invoice = _db.session.scalar(select(Invoice))
        invoice_id, number = invoice.id, invoice.number
    methods = {m for rule in app.url_map.iter_rules() if rule.rule.startswith("/billing/invoices/<int:invoice_id>")
               and not rule.rule.endswith("credit-note") for m in rule.methods}
    assert methods <= {"GET", "HEAD", "OPTIONS"}  # no route edits or deletes an invoice
    auth.login_as("operator")
    assert client.post(f"/billing/invoices/{invoice_id}", data={"csrf_token": auth.token()}).status_code == 405
    page = client.get(f"/billing/invoices/{invoice_id}").get_data(as_text=True)
    assert number in page and "Issue a credit note" in page and "1,200.00" in page
    form = client.get(f"/billing/invoices/{invoice_id}/credit-note").get_data(as_text=True)
    no_reason = client.post(f"/billing/invoices/{invoice_id}/credit-note", data={"csrf_token": csrf_from(form), "amount": "200"})
    assert no_reason.status_code == 422 and "Give a reason" in no_reason.get_data(as_text=True)
    done = client.post(f"/billing/invoices/{invoice_id}/credit-note",
                       data={"csrf_token": csrf_from(form), "amount": "200", "reason": "Outage"})
    assert done.status_code == 302
    note_page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Credit note" in note_page and f"Corrects invoice <strong>{number}</strong>" in note_page
    with app.app_context():
        original = _db.session.get(Invoice, invoice_id)
        assert (original.number, f"{original.amount:.2f}") == (number, "1200.00")
        assert balance(customer) == "-1000.00"
        assert _db.session.scalar(select(func.count()).select_from(Invoice)) == 2


def test_adjustment_and_refund_pages_need_a_reason(app, client, auth, bill):
    customer = bill.customer()
    auth.login_as("admin")
    form = client.get(f"/billing/customers/{customer}/adjust").get_data(as_text=True)
    refused = client.post(f"/billing/customers/{customer}/adjust", data={"csrf_token": csrf_from(form), "amount": "500"})
    assert refused.status_code == 422 and "Give a reason" in refused.get_data(as_text=True)
    assert client.post(f"/billing/customers/{customer}/adjust",
                       data={"csrf_token": csrf_from(form), "amount": "500", "reason": "Goodwill"}).status_code == 302
    too_much = client.post(f"/billing/customers/{customer}/refund",
                           data={"csrf_token": csrf_from(form), "amount": "600", "method": "cash", "reason": "Leaving"})
    assert too_much.status_code == 422 and "cannot be more than that" in too_much.get_data(as_text=True)
    assert client.post(f"/billing/customers/{customer}/refund", data={
        "csrf_token": csrf_from(form), "amount": "500", "method": "cash", "reason": "Leaving"}).status_code == 302
    with app.app_context():
        assert balance(customer) == "0.00"


def test_plan_change_shows_the_figures_before_confirming(app, client, auth, bill):
    plan = bill.plan("3000.00", "day", 30)
    customer = bill.customer()
    bill.fund(customer, "3000.00")
    sub_id = bill.service(customer, plan, state="pending", started_at=periods.second() - timedelta(days=10))
    with app.app_context():
        lifecycle.start(_db.session.get(Subscription, sub_id), bill.user())
        _db.session.commit()
    faster = bill.plan("4500.00", "day", 30, name="Faster")
    auth.login_as("operator")
    page = client.get(f"/billing/subscriptions/{sub_id}/change-plan")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Faster" in html and "Choose a plan to see" in html
    quote = client.get(f"/billing/subscriptions/{sub_id}/change-plan?plan_id={faster}", headers={"HX-Request": "true"})
    figures = quote.get_data(as_text=True)
    assert 'data-test="credit">−2,000.00' in figures and 'data-test="charge">3,000.00' in figures
    assert 'data-test="net">1,000.00' in figures and "<html" not in figures
    with app.app_context():
        assert _db.session.get(Subscription, sub_id).plan_id == plan  # nothing changed by looking
    at = figures.split('name="at" value="')[1].split('"')[0]
    done = client.post(f"/billing/subscriptions/{sub_id}/change-plan",
                       data={"csrf_token": csrf_from(html), "plan_id": faster, "at": at})
    assert done.status_code == 302 and done.headers["Location"] == f"/customers/{customer}"
    with app.app_context():
        assert _db.session.get(Subscription, sub_id).plan_id == faster and balance(customer) == "-1000.00"
    stale = client.post(f"/billing/subscriptions/{sub_id}/change-plan",
                        data={"csrf_token": csrf_from(html), "plan_id": plan, "at": "2020-01-01T00:00:00+00:00"})
    assert stale.status_code == 422 and "out of date" in stale.get_data(as_text=True)
    bogus = client.post(f"/billing/subscriptions/{sub_id}/change-plan", data={"csrf_token": csrf_from(html), "plan_id": "999999"})
    assert bogus.status_code == 422 and "Choose one of the plans listed" in bogus.get_data(as_text=True)


def _nonce(html: str) -> str:
    import re

    found = re.search(r'name="nonce"[^>]*value="([^"]+)"', html) or re.search(r'value="([^"]+)"[^>]*name="nonce"', html)
    assert found, "the form carries a one-time nonce"
    return found.group(1)


def test_a_double_submitted_cash_payment_is_recorded_once(app, client, auth, bill):
    from isp.models import LedgerEntry

    customer = bill.customer()
    auth.login_as("operator")
    html = client.get(f"/billing/customers/{customer}/payments/new").get_data(as_text=True)
    data = {"csrf_token": csrf_from(html), "nonce": _nonce(html), "amount": "500", "method": "cash"}
    first = client.post(f"/billing/customers/{customer}/payments/new", data=data)
    assert first.status_code == 302
    second = client.post(f"/billing/customers/{customer}/payments/new", data=data)
    with app.app_context():
        number = _db.session.scalar(select(Payment.number))
        assert _db.session.scalar(select(func.count()).select_from(Payment)) == 1
        assert _db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 1 and balance(customer) == "500.00"
    assert second.status_code == 422
    assert f"This payment was already recorded (receipt {number})." in second.get_data(as_text=True)
    # The receipt still shows the balance after the payment (found by the payment, whatever the entry's key).
    assert "500.00" in client.get(first.headers["Location"]).get_data(as_text=True)
    fresh = client.get(f"/billing/customers/{customer}/payments/new").get_data(as_text=True)
    assert _nonce(fresh) != data["nonce"]  # a new page, a new payment
    assert client.post(f"/billing/customers/{customer}/payments/new",
                       data={**data, "nonce": _nonce(fresh)}).status_code == 302


def test_a_double_submitted_adjustment_or_refund_posts_once(app, client, auth, bill):
    customer = bill.customer()
    auth.login_as("admin")
    form = client.get(f"/billing/customers/{customer}/adjust").get_data(as_text=True)
    data = {"csrf_token": csrf_from(form), "nonce": _nonce(form), "amount": "500", "reason": "Goodwill"}
    assert client.post(f"/billing/customers/{customer}/adjust", data=data).status_code == 302
    again = client.post(f"/billing/customers/{customer}/adjust", data=data)
    assert again.status_code == 422 and "This adjustment was already recorded." in again.get_data(as_text=True)
    form = client.get(f"/billing/customers/{customer}/refund").get_data(as_text=True)
    data = {"csrf_token": csrf_from(form), "nonce": _nonce(form), "amount": "200", "method": "cash", "reason": "Leaving"}
    assert client.post(f"/billing/customers/{customer}/refund", data=data).status_code == 302
    again = client.post(f"/billing/customers/{customer}/refund", data=data)
    assert again.status_code == 422 and "This refund was already recorded." in again.get_data(as_text=True)
    with app.app_context():
        assert balance(customer) == "300.00"


def test_services_take_money_without_a_nonce_and_refuse_a_damaged_one(db, bill):
    from isp.services.errors import ServiceError

    customer = db.session.get(Customer, bill.customer())
    billing.record_payment(customer, "10", "cash", "", "", bill.user())
    billing.record_payment(customer, "10", "cash", "", "", bill.user())  # the CLI and the import have no form
    db.session.commit()

    with pytest.raises(ServiceError, match="damaged"):
        billing.record_payment(customer, "10", "cash", "", "", bill.user(), nonce="x" * 65)
    db.session.rollback()
    assert balance(customer.id) == "20.00"
