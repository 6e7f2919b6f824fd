"""The debt list: who owes, since when, aging buckets with totals, on the page and in the CSV."""
from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import update

from isp.extensions import db as _db
from isp.models import EntryKind, LedgerEntry
from isp.services import ledger, periods

# name -> [(days ago, amount)]; the expected bucket and debt.
HISTORY = {
    "Amina": ([(10, "-100.00")], "0-30", "100.00"),
    "Brian": ([(45, "-200.00")], "31-60", "200.00"),
    "Chloe": ([(75, "-300.00")], "61-90", "300.00"),
    "Dawit": ([(120, "-400.00"), (20, "100.00")], "90+", "300.00"),       # a part payment does not make a debt younger
    "Esther": ([(100, "-500.00"), (50, "500.00"), (5, "-50.00")], "0-30", "50.00"),  # paid off, then a new debt
    "Farid": ([(30.04, "-70.00")], "0-30", "70.00"),                       # 30 whole days old: still 0–30
    "Grace": ([(60, "100.00")], None, None),                               # in credit: not in the list
}


def _world(app, bill):
    now = periods.second()
    with app.app_context():
        for name, (moves, _bucket, _debt) in HISTORY.items():
            account = ledger.customer_account(bill.customer(name))
            for days, amount in moves:
                entry = ledger.post(account, EntryKind.adjustment, Decimal(amount), "history", allow_overdraft=True)
                _db.session.execute(update(LedgerEntry).where(LedgerEntry.id == entry.id)
                                    .values(created_at=now - timedelta(days=days)))
            _db.session.commit()


def test_debt_buckets_and_totals_on_the_page_and_in_csv(app, client, auth, bill):
    _world(app, bill)
    auth.login_as("operator")
    page = client.get("/billing/?tab=debt").get_data(as_text=True)
    for name, (_moves, bucket, debt) in HISTORY.items():
        if bucket is None:
            assert name not in page
            continue
        row = page.split(f">{name}</a>")[1].split("</tr>")[0]
        assert f'data-bucket="{bucket}"' in row and f"{Decimal(debt):,.2f}" in row
    totals = page.split('data-test="debt-totals"')[1].split("</table>")[0]
    for bucket, count, owed in (("0-30", 3, "220.00"), ("31-60", 1, "200.00"), ("61-90", 1, "300.00"), ("90+", 1, "300.00")):
        line = totals.split(f'data-bucket="{bucket}"')[1].split("</tr>")[0]
        assert f">{count}<" in line and owed in line
    assert 'data-test="debt-total">1,020.00' in totals
    assert page.index(">Chloe<") < page.index(">Brian<") < page.index(">Amina<") < page.index(">Esther<")  # largest first

    old = client.get("/billing/?tab=debt&bucket=90%2B", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Dawit" in old and "Amina" not in old and "Esther" not in old

    rows = list(csv.reader(io.StringIO(client.get("/billing/debt.csv").get_data(as_text=True))))
    assert rows[0] == ["account_no", "customer", "phone", "balance", "in_debt_since_utc", "days", "bucket"]
    got = {r[1]: (r[3], r[6]) for r in rows[1:]}
    assert got == {name: (f"-{debt}", bucket) for name, (_m, bucket, debt) in HISTORY.items() if bucket}
    assert [Decimal(r[3]) for r in rows[1:]] == sorted(Decimal(r[3]) for r in rows[1:])  # the largest debt first
    days = {r[1]: int(r[5]) for r in rows[1:]}
    assert (days["Dawit"], days["Esther"], days["Farid"]) == (120, 5, 30)


def test_the_debt_age_reads_only_the_debt_index_whatever_the_history(app, bill):
    """Each customer's debt age is two short reads of ix_ledger_entries_account_id_balance (the latest entry at
    zero or above, backwards; the next one), never a scan of the account's history or of the table."""
    from sqlalchemy import select, text

    from isp.models import LedgerAccount
    from isp.services import billing_lists

    _world(app, bill)
    with app.app_context():
        stmt = select(LedgerAccount.customer_id, billing_lists.since()).where(LedgerAccount.balance < 0)
        sql = str(stmt.compile(_db.engine, compile_kwargs={"literal_binds": True}))
        if _db.engine.dialect.name == "sqlite":
            plan = [row[-1] for row in _db.session.execute(text("EXPLAIN QUERY PLAN " + sql))]
            reads = [line for line in plan if "ledger_entries" in line]
            assert reads == ["SEARCH ledger_entries USING COVERING INDEX ix_ledger_entries_account_id_balance "
                             "(account_id=? AND id>?)",
                             "SEARCH ledger_entries_1 USING COVERING INDEX ix_ledger_entries_account_id_balance "
                             "(account_id=?)"], plan
        else:
            plan = [dict(row._mapping) for row in _db.session.execute(text("EXPLAIN " + sql))]
            reads = [(row["table"], row["key"]) for row in plan if row["table"].startswith("ledger_entries")]
            assert reads == [("ledger_entries", "ix_ledger_entries_account_id_balance"),
                             ("ledger_entries_1", "ix_ledger_entries_account_id_balance")], plan
            assert all("Using index" in (row["Extra"] or "") for row in plan if row["table"].startswith("ledger_entries"))
