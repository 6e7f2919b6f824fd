"""What each role reaches: a reseller only their own customers' money (404 otherwise, scoped in the query), only staff
correct; and text typed by anyone is escaped on every billing page and neutralised in every CSV."""
from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from isp.extensions import db as _db
from isp.models import Customer, Invoice, Payment, Subscription, User
from isp.services import adjustments, billing, lifecycle
from tests.conftest import TEST_PASSWORD

XSS = '<script>alert("x")</script>'
IMG = "<img src=x onerror=alert(1)>"
FORMULA = '=HYPERLINK("http://evil.example","x")'


def _customer_with_money(app, bill, name, reseller_id=None, reference="REF"):
    """A customer with a service, its first invoice, a payment and a credit note; returns their ids."""
    plan = bill.plan("1000.00", "day", 30)
    customer = bill.customer(name, reseller_id=reseller_id)
    sub_id = bill.service(customer, plan, state="pending")
    with app.app_context():
        lifecycle.start(_db.session.get(Subscription, sub_id), bill.user())
        payment = billing.record_payment(_db.session.get(Customer, customer), "400.00", "mobile", reference, IMG, bill.user())
        invoice = _db.session.scalar(select(Invoice).where(Invoice.customer_id == customer))
        adjustments.credit_note(invoice, "100.00", f"Outage {XSS}", bill.user())
        _db.session.commit()
        return {"customer": customer, "sub": sub_id, "invoice": invoice.id, "payment": payment.id,
                "account": _db.session.get(Customer, customer).account_no}


def _urls(ids):
    return {
        "invoice": f"/billing/invoices/{ids['invoice']}",
        "receipt": f"/billing/payments/{ids['payment']}/receipt",
        "payment_new": f"/billing/customers/{ids['customer']}/payments/new",
    }


def _staff_urls(ids):
    return {
        "adjust": f"/billing/customers/{ids['customer']}/adjust",
        "refund": f"/billing/customers/{ids['customer']}/refund",
        "credit_note": f"/billing/invoices/{ids['invoice']}/credit-note",
        "change_plan": f"/billing/subscriptions/{ids['sub']}/change-plan",
    }


def _login(client, auth, user):
    assert auth.login(user.username, TEST_PASSWORD).status_code == 302


def test_a_reseller_sees_and_takes_money_only_for_their_own_customers(app, client, auth, bill):
    agent, rival = bill.agent(), bill.agent()
    mine = _customer_with_money(app, bill, "Mine Customer", reseller_id=agent.id, reference="MINE-1")
    theirs = _customer_with_money(app, bill, "Staff Customer", reference="STAFF-1")
    rivals = _customer_with_money(app, bill, "Rival Customer", reseller_id=rival.id, reference="RIVAL-1")
    _login(client, auth, agent)

    for url in _urls(mine).values():
        assert client.get(url).status_code == 200, url
    for other in (theirs, rivals):
        for name, url in _urls(other).items():
            assert client.get(url).status_code == 404, name
        taken = client.post(_urls(other)["payment_new"], data={"csrf_token": auth.token(), "amount": "5", "method": "cash"})
        assert taken.status_code == 404
    for name, url in {**_staff_urls(mine), **_staff_urls(theirs)}.items():
        assert client.get(url, headers={"HX-Request": "true"}).status_code == 403, name
        assert client.post(url, data={"csrf_token": auth.token()}, headers={"HX-Request": "true"}).status_code == 403, name

    for tab in ("invoices", "payments", "debt"):
        listed = client.get(f"/billing/?tab={tab}").get_data(as_text=True)
        assert mine["account"] in listed and theirs["account"] not in listed and rivals["account"] not in listed, tab
        guessed = client.get(f"/billing/?tab={tab}&q={theirs['account']}", headers={"HX-Request": "true"})
        assert "Nothing matches these filters" in guessed.get_data(as_text=True)
    for export in ("invoices", "payments", "debt"):
        text = client.get(f"/billing/{export}.csv").get_data(as_text=True)
        assert mine["account"] in text and theirs["account"] not in text and rivals["account"] not in text, export

    with app.app_context():
        before = _db.session.scalar(select(Payment.id).order_by(Payment.id.desc()).limit(1))
    page = client.get(_urls(mine)["payment_new"]).get_data(as_text=True)
    from tests.conftest import csrf_from
    assert client.post(_urls(mine)["payment_new"], data={"csrf_token": csrf_from(page), "amount": "5", "method": "cash"}).status_code == 422
    with app.app_context():  # the wallet holds nothing: refused, nothing recorded
        assert _db.session.scalar(select(Payment.id).order_by(Payment.id.desc()).limit(1)) == before


def test_a_reseller_not_allowed_to_sell_services_sees_no_customer_money(app, client, auth, bill):
    idle = bill.agent(can_sell=False)
    own = _customer_with_money(app, bill, "Idle Customer", reseller_id=idle.id)
    _login(client, auth, idle)
    for name, url in _urls(own).items():
        assert client.get(url).status_code == 404, name
    assert own["account"] not in client.get("/billing/?tab=invoices").get_data(as_text=True)


@pytest.mark.parametrize("role", ["admin", "operator"])
def test_staff_reach_every_billing_page(app, client, auth, bill, role):
    ids = _customer_with_money(app, bill, "Anyone")
    auth.login_as(role)
    for name, url in {**_urls(ids), **_staff_urls(ids)}.items():
        assert client.get(url).status_code == 200, name


def test_typed_text_is_escaped_on_every_billing_page_and_neutralised_in_csv(app, client, auth, bill):
    ids = _customer_with_money(app, bill, XSS)
    formula = _customer_with_money(app, bill, FORMULA, reference="F-1")
    with app.app_context():
        customer = _db.session.get(Customer, ids["customer"])
        customer.notes, customer.address, customer.phone = XSS, IMG, "0700"
        _db.session.commit()
    auth.login_as("admin")
    pages = [*_urls(ids).values(), *_staff_urls(ids).values(), "/billing/?tab=invoices", "/billing/?tab=payments",
             "/billing/?tab=debt", f"/billing/invoices/{ids['invoice'] + 1}",  # the credit note, whose reason holds markup
             f"/billing/invoices/{ids['invoice']}?format=58", f"/billing/payments/{ids['payment']}/receipt?format=80"]
    for url in pages:
        html = client.get(url).get_data(as_text=True)
        assert XSS not in html and IMG not in html, url
    receipt = client.get(_urls(ids)["receipt"]).get_data(as_text=True)
    assert "&lt;script&gt;" in receipt and "&lt;img src=x onerror=alert(1)&gt;" in receipt
    note = client.get(f"/billing/invoices/{ids['invoice'] + 1}").get_data(as_text=True)
    assert "Outage &lt;script&gt;" in note

    for export in ("invoices", "payments", "debt"):
        rows = list(csv.reader(io.StringIO(client.get(f"/billing/{export}.csv").get_data(as_text=True))))
        cells = [c for r in rows for c in r]
        assert FORMULA not in cells and "'" + FORMULA in cells, export
        assert XSS in cells  # CSV is data, not markup: kept as typed, but never a formula
    assert formula["account"]
    with app.app_context():
        assert _db.session.get(User, bill.staff.id) is not None
