"""The billing lists (invoices, payments, debt) and their CSV rows: filtered in SQL, scoped to what the user may see.

Debt ageing: a debt's age is the time since the customer's balance last went below zero, i.e. the first entry
with a negative balance after the last entry that left the balance at zero or above. A part payment does not
make a debt younger; paying it off and falling into debt again starts a new age. Buckets by whole days:
0–30, 31–60, 61–90 and 90+ (more than 90).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Select, case, func, literal, or_, select
from sqlalchemy.orm import aliased

from isp.extensions import db
from isp.models import Customer, Invoice, InvoiceKind, LedgerAccount, LedgerEntry, Payment, PaymentMethod, Subscription, User
from isp.services import paging, periods
from isp.services.billing import scoped

TABS = ("invoices", "payments", "debt")
BUCKETS = ("0-30", "31-60", "61-90", "90+")
_EDGES = ((31, "0-30"), (61, "31-60"), (91, "61-90"))  # a debt younger than N whole days + 1 falls in the bucket
FILTER_KEYS = ("tab", "q", "date_from", "date_to", "method", "kind", "bucket")


def clean_filters(args: Mapping[str, str]) -> dict[str, str]:
    """The query-string filters, each checked; a bad value is dropped (never a 500)."""
    out = {key: (args.get(key) or "").strip() for key in FILTER_KEYS}
    out["tab"] = out["tab"] if out["tab"] in TABS else "invoices"
    out["q"] = out["q"][:64]
    for key in ("date_from", "date_to"):
        try:
            date.fromisoformat(out[key])
        except ValueError:
            out[key] = ""
    if out["method"] not in {m.value for m in PaymentMethod}:
        out["method"] = ""
    if out["kind"] not in {k.value for k in InvoiceKind}:
        out["kind"] = ""
    if out["bucket"] not in BUCKETS:
        out["bucket"] = ""
    return out


def _range(filters: dict, column: object, tz: str) -> list:
    """`column` within the filters' dates, whole days in the operator's timezone."""
    zone, clauses = ZoneInfo(tz), []
    if filters["date_from"]:
        clauses.append(column >= datetime.combine(date.fromisoformat(filters["date_from"]), time.min, zone).astimezone(UTC))
    if filters["date_to"]:
        end = date.fromisoformat(filters["date_to"]) + timedelta(days=1)
        clauses.append(column < datetime.combine(end, time.min, zone).astimezone(UTC))
    return clauses


def _who(filters: dict, customer_col: object) -> list:
    """Customers whose account number or name starts with the search text (both indexed)."""
    if not filters["q"]:
        return []
    pattern = filters["q"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return [customer_col.in_(select(Customer.id).where(or_(Customer.account_no.like(pattern, escape="\\"),
                                                           Customer.name.like(pattern, escape="\\"))))]


# -- invoices and payments ----------------------------------------------------------------------------------------


def _invoice_where(user: User, filters: dict, tz: str, stmt: Select) -> Select:
    stmt = stmt.where(*_range(filters, Invoice.issued_at, tz), *_who(filters, Invoice.customer_id))
    if filters["kind"]:
        stmt = stmt.where(Invoice.kind == InvoiceKind(filters["kind"]))
    return scoped(stmt, user, Invoice.customer_id)


def invoices_page(user: User, filters: dict, tz: str, per_page: int) -> paging.IdPagination:
    """A page of invoices and credit notes, newest first."""
    return paging.paginate(_invoice_where(user, filters, tz, select(Invoice)).order_by(Invoice.id.desc()), Invoice.id, per_page)


def numbers(invoice_ids: list[int]) -> dict[int, str]:
    """Invoice numbers by id (what the credit notes on a page correct), one query."""
    if not invoice_ids:
        return {}
    return dict(db.session.execute(select(Invoice.id, Invoice.number).where(Invoice.id.in_(invoice_ids))).tuples().all())


def _payment_where(user: User, filters: dict, tz: str, stmt: Select) -> Select:
    stmt = stmt.where(*_range(filters, Payment.received_at, tz), *_who(filters, Payment.customer_id))
    if filters["method"]:
        stmt = stmt.where(Payment.method == PaymentMethod(filters["method"]))
    return scoped(stmt, user, Payment.customer_id)


def payments_page(user: User, filters: dict, tz: str, per_page: int) -> paging.IdPagination:
    """A page of payments, newest first."""
    return paging.paginate(_payment_where(user, filters, tz, select(Payment)).order_by(Payment.id.desc()), Payment.id, per_page)


INVOICE_COLUMNS = ("number", "kind", "issued_utc", "account_no", "customer", "service", "period_start_utc",
                   "period_end_utc", "description", "amount", "currency", "corrects")
PAYMENT_COLUMNS = ("receipt", "received_utc", "account_no", "customer", "amount", "currency", "method", "reference",
                   "note", "taken_by")


def invoice_rows(user: User, filters: dict, tz: str) -> Iterator[list]:
    """CSV rows of the filtered invoices, streamed off the database a thousand at a time."""
    corrected = aliased(Invoice)
    stmt = _invoice_where(user, filters, tz, select(
        Invoice.number, Invoice.kind, Invoice.issued_at, Customer.account_no, Customer.name, Subscription.username,
        Invoice.period_start, Invoice.period_end, Invoice.description, Invoice.amount, Invoice.currency, corrected.number)
        .join(Customer, Customer.id == Invoice.customer_id).outerjoin(Subscription, Subscription.id == Invoice.subscription_id)
        .outerjoin(corrected, corrected.id == Invoice.corrects_id)).order_by(Invoice.id.desc())
    for row in db.session.execute(stmt.execution_options(yield_per=1000)):
        yield [row[0], row[1].value, _iso(row[2]), row[3], row[4], row[5] or "", _iso(row[6]), _iso(row[7]), row[8],
               f"{row[9]:.2f}", row[10], row[11] or ""]


def payment_rows(user: User, filters: dict, tz: str) -> Iterator[list]:
    """CSV rows of the filtered payments."""
    stmt = _payment_where(user, filters, tz, select(
        Payment.number, Payment.received_at, Customer.account_no, Customer.name, Payment.amount, Payment.currency,
        Payment.method, Payment.reference, Payment.note, User.username)
        .join(Customer, Customer.id == Payment.customer_id).outerjoin(User, User.id == Payment.taken_by_id)
        .order_by(Payment.id.desc()))
    for row in db.session.execute(stmt.execution_options(yield_per=1000)):
        yield [row[0], _iso(row[1]), row[2], row[3], f"{row[4]:.2f}", row[5], row[6].value, row[7] or "", row[8], row[9] or ""]


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


# -- debt ---------------------------------------------------------------------------------------------------------


def since() -> object:
    """Correlated on LedgerAccount: when its balance last went below zero (see the module docstring).

    The account's latest entry at zero or above is found by reading its entries backwards by id and stopping at
    the first one (ORDER BY id DESC LIMIT 1, not MAX, so the database stops early); the debt starts with the
    next entry by id (ORDER BY id LIMIT 1). Both read only ix_ledger_entries_account_id_balance (account_id, id,
    balance_after, created_at) and only the entries of the current debt, however long the account's history.
    """
    later = aliased(LedgerEntry)
    last_ok = (select(later.id).where(later.account_id == LedgerAccount.id, later.balance_after >= 0)
               .order_by(later.id.desc()).limit(1).correlate(LedgerAccount).scalar_subquery())
    return (select(LedgerEntry.created_at).where(LedgerEntry.account_id == LedgerAccount.id,
                                                 LedgerEntry.id > func.coalesce(last_ok, 0), LedgerEntry.balance_after < 0)
            .order_by(LedgerEntry.id).limit(1).correlate(LedgerAccount).scalar_subquery())


def _bucket_of(moment: object, now: datetime) -> object:
    return case(*[(moment > now - timedelta(days=days), literal(label)) for days, label in _EDGES], else_=literal("90+"))


def _debt_where(user: User, filters: dict, now: datetime, stmt: Select) -> Select:
    stmt = stmt.join(LedgerAccount, LedgerAccount.customer_id == Customer.id).where(LedgerAccount.balance < 0,
                                                                                   *_who(filters, Customer.id))
    if filters["bucket"]:
        edges = dict((label, days) for days, label in _EDGES)
        lower = {"0-30": None, "31-60": 31, "61-90": 61, "90+": 91}[filters["bucket"]]
        start = since()
        if filters["bucket"] in edges:
            stmt = stmt.where(start > now - timedelta(days=edges[filters["bucket"]]))
        if lower:
            stmt = stmt.where(start <= now - timedelta(days=lower))
    return scoped(stmt, user, Customer.id)


def debt_page(user: User, filters: dict, now: datetime, per_page: int) -> paging.IdPagination:
    """A page of customers in debt, the largest debt first."""
    stmt = _debt_where(user, filters, now, select(Customer)).order_by(LedgerAccount.balance, Customer.id.desc())
    return paging.paginate(stmt, Customer.id, per_page)


@dataclass(frozen=True)
class Debt:
    """One customer's debt: how much, since when, how old."""

    balance: Decimal
    since: datetime | None
    days: int
    bucket: str


def _debt(balance: Decimal, start: datetime | None, now: datetime) -> Debt:
    days = max((now - start).days, 0) if start else 0
    bucket = next((label for edge, label in _EDGES if days < edge), "90+")
    return Debt(Decimal(balance).quantize(periods.CENT), start, days, bucket)


def debts(customer_ids: list[int], now: datetime) -> dict[int, Debt]:
    """The debt of each customer on a page, one query."""
    if not customer_ids:
        return {}
    rows = db.session.execute(select(LedgerAccount.customer_id, LedgerAccount.balance, since())
                              .where(LedgerAccount.customer_id.in_(customer_ids)))
    return {cid: _debt(balance, start, now) for cid, balance, start in rows}


def debt_totals(user: User, filters: dict, now: datetime) -> list[tuple[str, int, Decimal]]:
    """(bucket, customers, total owed) for each bucket, over every customer the filters keep."""
    inner = _debt_where(user, {**filters, "bucket": ""}, now, select(LedgerAccount.balance.label("balance"),
                                                                      since().label("since")).select_from(Customer)).subquery()
    labelled = select(_bucket_of(inner.c.since, now).label("bucket"), inner.c.balance).subquery()
    rows = db.session.execute(select(labelled.c.bucket, func.count(), func.sum(labelled.c.balance)).group_by(labelled.c.bucket))
    found = {bucket: (count, Decimal(total or 0).quantize(periods.CENT)) for bucket, count, total in rows}
    return [(b, *found.get(b, (0, Decimal("0.00")))) for b in BUCKETS]


DEBT_COLUMNS = ("account_no", "customer", "phone", "balance", "in_debt_since_utc", "days", "bucket")


def debt_rows(user: User, filters: dict, now: datetime) -> Iterator[list]:
    """CSV rows of every customer in debt the filters keep, the largest debt first."""
    stmt = _debt_where(user, filters, now, select(Customer.account_no, Customer.name, Customer.phone, LedgerAccount.balance,
                                                  since()).select_from(Customer)).order_by(LedgerAccount.balance, Customer.id)
    for account_no, name, phone, balance, start in db.session.execute(stmt.execution_options(yield_per=1000)):
        debt = _debt(balance, start, now)
        yield [account_no, name, phone, f"{debt.balance:.2f}", _iso(start), debt.days, debt.bucket]
