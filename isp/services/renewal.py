"""The billing run, set-based: renew what is due, move the rest to grace, suspend where grace ran out.

1. Renew: services active or in grace, past paid_until, auto-renew on, whose customer's balance covers the
   price. Customers are taken a few thousand at a time; each unit locks their ledger accounts (UPDATE, the
   same lock every posting takes), locks the due services, re-reads them, and allocates each customer's
   balance to their due services oldest first in memory, so two services never spend the same money. Then
   it writes with a handful of multi-row statements: invoices (numbers reserved in one counter bump and
   assigned in order), ledger entries ("renewal:<service>:<period start>", unique), the cached balances,
   the services' new periods and the timeline lines. One period per service per run, as settle does it: it
   follows on from paid_until, unless the service is more than a whole period behind (the clock was down, or
   it came back from a long gap), then the new period starts now and the missed time is not billed. An
   active service without a paid_until (never billed) is due at once and its first period starts now.
2. Grace: every other active service past paid_until or without one (balance short, or auto-renew off): one
   UPDATE per chunk sets grace_until = paid_until (now when there is none) + grace days (the service's, else
   its plan's, else Settings') in SQL, and one INSERT … SELECT writes the timeline lines.
3. Suspend: services in grace whose grace_until passed: one UPDATE and one INSERT … SELECT per chunk, then
   the router changes go out on `critical` with a kick (provisioning.sync_many). The 10-second tick
   (isp.jobs.billing.suspend_due) runs only this step.

Running twice, or in two processes at once, never bills twice: the second run finds the services locked,
then no longer due; and the unique keys (invoice per service, period start and kind; ledger idem_key) stand
behind the locks. `unit` wraps each chunk (the job passes isp.transaction.atomic: one commit per chunk,
re-run on a deadlock); by default the chunks only flush and the caller commits.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import groupby
from typing import TypeVar

from sqlalchemy import (
    Column,
    ColumnElement,
    Integer,
    MetaData,
    Numeric,
    Table,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateTable
from sqlalchemy.sql.functions import FunctionElement

from isp.extensions import db
from isp.models import (
    CustomerEvent,
    EntryKind,
    Invoice,
    InvoiceKind,
    LedgerAccount,
    LedgerEntry,
    NotificationChannel,
    PeriodUnit,
    Priority,
    ServicePlan,
    Subscription,
    SubscriptionState,
)
from isp.models.base import UTCDateTime
from isp.services import audit, billing, branding, numbering, periods, provisioning
from isp.sqlutil import chunked
from isp.units import with_currency

T = TypeVar("T")
log = logging.getLogger(__name__)
S = SubscriptionState
CHUNK = 2000        # customers (renewal) or services (grace, suspension) per unit of work


class add_days(FunctionElement):  # noqa: N801 - reads as SQL
    """`moment + days` in SQL on both profiles (days: an integer expression)."""

    type = UTCDateTime()
    inherit_cache = True


@compiles(add_days, "sqlite")
def _add_days_sqlite(element: add_days, compiler: object, **kw: object) -> str:
    moment, days = (compiler.process(c, **kw) for c in element.clauses)  # type: ignore[attr-defined]
    # datetime() drops the fraction SQLAlchemy stores ("….000000"); put it back so comparisons stay textual.
    return f"(datetime({moment}, '+' || ({days}) || ' days') || substr({moment}, 20))"


@compiles(add_days, "mysql")
@compiles(add_days, "mariadb")
def _add_days_mysql(element: add_days, compiler: object, **kw: object) -> str:
    moment, days = (compiler.process(c, **kw) for c in element.clauses)  # type: ignore[attr-defined]
    return f"DATE_ADD({moment}, INTERVAL ({days}) DAY)"


def _inline(work: Callable[[], T]) -> T:
    return work()


def _expire(model: type, ids: set[int]) -> None:
    """Forget what the session holds of rows the set-based statements just changed, so later reads see the new values.

    (They changed in SQL, not through the objects; provisioning.sync_many, for one, reads the services again.)
    """
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, model) and obj.id in ids:
            db.session.expire(obj)


def run(now: datetime | None = None, unit: Callable = _inline) -> dict[str, int]:
    """Renew, move to grace, suspend; returns how many services each step changed."""
    now = periods.second(now)
    return {"renewed": renew(now, unit), "grace": to_grace(now, unit), "suspended": suspend(now, unit)}


# -- 1. renewal ----------------------------------------------------------------------------------------------


def _due(now: datetime) -> list:
    """The due-for-renewal condition (active or grace, past paid_until or never billed, auto-renew on)."""
    return [Subscription.state.in_((S.active, S.grace)), _lapsed(now), Subscription.auto_renew.is_(True)]


def _lapsed(now: datetime) -> ColumnElement[bool]:
    """paid_until passed, or never set (an active service that was never billed is due at once)."""
    return or_(Subscription.paid_until <= now, Subscription.paid_until.is_(None))


def next_start(paid_until: datetime | None, unit: PeriodUnit, count: int, now: datetime) -> datetime:
    """Where a renewal's period begins: at paid_until, or now when a whole period (or more) was missed or none was paid."""
    if paid_until is None or periods.advance(paid_until, unit, count) <= now:
        return now
    return paid_until


def renew(now: datetime, unit: Callable = _inline) -> int:
    """Renew every due service whose customer's balance covers it; returns the number of services renewed."""
    now = periods.second(now)
    customers = list(db.session.scalars(
        select(Subscription.customer_id).join(ServicePlan, ServicePlan.id == Subscription.plan_id)
        .outerjoin(LedgerAccount, LedgerAccount.customer_id == Subscription.customer_id)
        .where(*_due(now), func.coalesce(LedgerAccount.balance, 0) >= ServicePlan.price)
        .distinct().order_by(Subscription.customer_id)))
    return sum(unit(lambda ids=ids: _renew_customers(ids, now)) for ids in chunked(customers, CHUNK))


def _renew_customers(customer_ids: list[int], now: datetime) -> int:
    """One unit: lock the customers' accounts and due services, allocate the balances, write set-based."""
    for ids in chunked(customer_ids):
        db.session.execute(update(LedgerAccount).where(LedgerAccount.customer_id.in_(ids))
                           .values(lock_version=LedgerAccount.lock_version + 1), execution_options={"synchronize_session": False})
    rows = []
    for ids in chunked(customer_ids):
        locked = list(db.session.scalars(select(Subscription.id).where(Subscription.customer_id.in_(ids), *_due(now))
                                         .with_for_update()))
        if locked:
            rows += db.session.execute(
                select(Subscription.id, Subscription.customer_id, Subscription.state, Subscription.paid_until,
                       Subscription.state_changed_at, Subscription.fup_active, Subscription.kind, Subscription.username,
                       ServicePlan.name, ServicePlan.price, ServicePlan.period_unit, ServicePlan.period_count,
                       LedgerAccount.id.label("account_id"), LedgerAccount.balance)
                .join(ServicePlan, ServicePlan.id == Subscription.plan_id)
                .outerjoin(LedgerAccount, LedgerAccount.customer_id == Subscription.customer_id)
                .where(Subscription.id.in_(locked))).all()
    rows.sort(key=lambda r: (r.customer_id, r.paid_until or now, r.id))
    docs, subs, balances, fup = [], [], [], []
    for _customer, group in groupby(rows, key=lambda r: r.customer_id):
        group = list(group)
        balance = Decimal(group[0].balance or 0).quantize(periods.CENT)
        for row in group:
            price = Decimal(row.price).quantize(periods.CENT)
            if balance < price:
                continue  # an older service of the same customer took the money
            start = next_start(row.paid_until, row.period_unit, row.period_count, now)
            end = periods.advance(start, row.period_unit, row.period_count)
            if price > 0:
                balance -= price
                docs.append((row, start, end, price, balance))
            subs.append((row, start, end))
            fup += [row.id] if row.fup_active else []
        if group[0].account_id is not None and balance != group[0].balance:
            balances.append({"id": group[0].account_id, "balance": balance})
    if not subs:
        return 0
    numbers = _write_documents(docs, now)
    _write_services(subs, numbers, now)
    _update_rows(LedgerAccount, balances)
    db.session.flush()
    _expire(Subscription, {row.id for row, _start, _end in subs})
    _expire(LedgerAccount, {b["id"] for b in balances})
    # radius-mode routers enforce paid time themselves (Expiration): move it with the new periods, set-based.
    provisioning.refresh_expiry([row.id for row, _start, _end in subs])
    if fup:
        # A new period lifts the fair-use cap; the kick makes live sessions dial in again on the full-speed profile.
        provisioning.sync_many(fup, Priority.normal, kick=True)
    _audit_chunk("subscriptions.renew", [row.id for row, _start, _end in subs],
                 {"renewed": [None, len(subs)], "invoices": [None, len(docs)]})
    return len(subs)


def _audit_chunk(action: str, ids: list[int], changes: dict[str, list[object]]) -> None:
    """One audit row per chunk of the set-based run (up to CHUNK services: a row per service would double the
    writes of a 100k run); in the chunk's own transaction, by the system (actor None)."""
    shown = ", ".join(f"#{i}" for i in ids[:10]) + (" …" if len(ids) > 10 else "")
    audit.record(None, action, f"{len(ids)} services", f"services {shown}", changes=changes)


_scratch = MetaData()
# Per-connection scratch tables for MariaDB/MySQL, which has no multi-row UPDATE: rows go in with one multi-row
# INSERT, then one UPDATE … JOIN applies them (an executemany of UPDATEs is a network round trip per row there).
_SCRATCH = {
    "subscriptions": Table("tmp_billing_periods", _scratch, Column("id", Integer, primary_key=True),
                           Column("period_start", UTCDateTime), Column("paid_until", UTCDateTime), prefixes=["TEMPORARY"]),
    "ledger_accounts": Table("tmp_billing_balances", _scratch, Column("id", Integer, primary_key=True),
                             Column("balance", Numeric(12, 2)), prefixes=["TEMPORARY"]),
}


def _update_rows(model: type, rows: list[dict], **same: object) -> None:
    """Set per-row values (each dict: "id" and columns) and `same` on every row, in a few statements.

    SQLite runs in-process, so an executemany is cheap there; MariaDB/MySQL gets the scratch table and a JOIN.
    """
    if not rows:
        return
    table = model.__table__
    columns = [name for name in rows[0] if name != "id"]
    if db.session.get_bind().dialect.name == "sqlite":
        stmt = update(table).where(table.c.id == bindparam("row_id")).values(
            **{name: bindparam(f"new_{name}") for name in columns}, **same)
        db.session.execute(stmt, [{"row_id": r["id"], **{f"new_{n}": r[n] for n in columns}} for r in rows],
                           execution_options={"synchronize_session": False})
        return
    scratch = _SCRATCH[table.name]
    db.session.execute(CreateTable(scratch, if_not_exists=True))
    db.session.execute(delete(scratch))
    db.session.execute(insert(scratch), rows)
    db.session.execute(update(table).where(table.c.id == scratch.c.id)
                       .values(**{name: scratch.c[name] for name in columns}, **same),
                       execution_options={"synchronize_session": False})
    db.session.execute(delete(scratch))


def _write_documents(docs: list, now: datetime) -> dict[int, tuple[str, Decimal]]:
    """Invoices and their ledger entries, a few statements for the lot; returns each service's last invoice."""
    if not docs:
        return {}
    currency = branding.get().currency
    numbers = numbering.document_numbers("invoice", now, len(docs))
    invoices = [{"number": number, "kind": InvoiceKind.invoice, "customer_id": row.customer_id, "subscription_id": row.id,
                 "corrects_id": None, "period_start": start, "period_end": end, "amount": price, "currency": currency,
                 "issued_at": now, "created_by_id": None,
                 "description": f"{row.name}, {row.kind.value} {row.username}: {start:%Y-%m-%d} to {end:%Y-%m-%d}"[:255]}
                for number, (row, start, end, price, _after) in zip(numbers, docs, strict=True)]
    db.session.execute(insert(Invoice.__table__), invoices)
    ids = {}
    for part in chunked(numbers):
        ids.update(db.session.execute(select(Invoice.number, Invoice.id).where(Invoice.number.in_(part))).tuples().all())
    db.session.execute(insert(LedgerEntry.__table__), [
        {"account_id": row.account_id, "kind": EntryKind.charge, "amount": -price, "balance_after": after,
         "memo": f"Invoice {number}: {inv['description']}"[:200], "batch_id": None, "invoice_id": ids[number],
         "payment_id": None, "idem_key": f"renewal:{row.id}:{periods.key(start)}", "created_by_id": None, "created_at": now}
        for number, inv, (row, start, _end, price, after) in zip(numbers, invoices, docs, strict=True)])
    return {row.id: (number, price) for number, (row, *_rest, price, _after) in zip(numbers, docs, strict=True)}


def _write_services(subs: list, numbers: dict[int, tuple[str, Decimal]], now: datetime) -> None:
    """The services' new periods (active again if they were in grace) and one timeline line each."""
    currency = branding.get().currency
    _update_rows(Subscription, [{"id": row.id, "period_start": start, "paid_until": end} for row, start, end in subs],
                 state=S.active, grace_until=None, period_bytes=0, fup_active=False, updated_at=now,
                 state_changed_at=case((Subscription.state != S.active, now), else_=Subscription.state_changed_at))
    lines = []
    for row, _start, end in subs:
        number, price = numbers.get(row.id, ("", Decimal("0.00")))
        paid = f"invoice {number}, {with_currency(f'{price:,.2f}', currency)}; " if number else ""
        lines.append({"customer_id": row.customer_id, "subscription_id": row.id, "actor_id": None, "at": now,
                      "kind": "renewal" if row.state == S.active else "state", "from_state": row.state.value,
                      "to_state": S.active.value, "summary": f"Renewed ({paid}paid until {end:%Y-%m-%d %H:%M} UTC)"})
    db.session.execute(insert(CustomerEvent.__table__), lines)


# -- 2. grace and 3. suspension --------------------------------------------------------------------------------


def _move(now: datetime, frm: SubscriptionState, to: SubscriptionState, due: object, values: dict,
          summary: object) -> tuple[int, list[int]]:
    """One unit: lock a chunk of services in `frm` matching `due`, move them to `to`, write their timeline lines.

    Returns (candidates seen, ids moved). The candidates are read, then locked with a no-op UPDATE (row locks on
    MariaDB, the write lock on SQLite), then read again: what another process moved meanwhile drops out, so
    the timeline lines and the router changes are exactly this unit's.
    """
    candidates = list(db.session.scalars(select(Subscription.id).where(Subscription.state == frm, due)
                                         .order_by(Subscription.id).limit(CHUNK)))
    if not candidates:
        return 0, []
    db.session.execute(update(Subscription).where(Subscription.id.in_(candidates)).values(updated_at=Subscription.updated_at),
                       execution_options={"synchronize_session": False})
    ids = list(db.session.scalars(select(Subscription.id).where(Subscription.id.in_(candidates), Subscription.state == frm, due)))
    if not ids:
        return len(candidates), []
    db.session.execute(update(Subscription).where(Subscription.id.in_(ids))
                       .values(state=to, state_changed_at=now, updated_at=now, **values),
                       execution_options={"synchronize_session": False})
    moved = select(Subscription.customer_id, Subscription.id, literal("state"), literal(frm.value), literal(to.value), summary,
                   null(), literal(now, UTCDateTime)).where(Subscription.id.in_(ids))
    db.session.execute(insert(CustomerEvent).from_select(
        ["customer_id", "subscription_id", "kind", "from_state", "to_state", "summary", "actor_id", "at"], moved))
    _expire(Subscription, set(ids))
    _audit_chunk(f"subscriptions.{to.value}", ids, {"state": [{frm.value: len(ids)}, {to.value: len(ids)}]})
    return len(candidates), ids


def _grace_chunk(now: datetime) -> tuple[int, int]:
    days = func.coalesce(Subscription.grace_days,
                         select(ServicePlan.grace_days).where(ServicePlan.id == Subscription.plan_id).scalar_subquery(),
                         branding.get().default_grace_days)
    summary = case((Subscription.auto_renew.is_(True),
                    literal("Not renewed: the balance does not cover the price; grace begins")),
                   else_=literal("Period ended with auto-renew off; grace begins"))
    seen, ids = _move(now, S.active, S.grace, _lapsed(now),
                      {"grace_until": add_days(func.coalesce(Subscription.paid_until, literal(now, UTCDateTime)), days)},
                      summary)
    return seen, len(ids)


def _suspend_chunk(now: datetime) -> tuple[int, list[int]]:
    seen, ids = _move(now, S.grace, S.suspended, Subscription.grace_until <= now, {},
                      literal("Grace ended without payment: suspended"))
    if ids:
        db.session.flush()
        provisioning.sync_many(ids, Priority.critical, kick=True)
    return seen, ids


def _notify_suspended(ids: list[int], now: datetime) -> None:
    """A 'suspended' message per service, when the notifications outbox is installed (one call for all if it can)."""
    send, many = billing.notifier(), billing.notifier("notify_many")
    if send is None and many is None:
        return
    if not db.session.scalar(select(NotificationChannel.channel).where(NotificationChannel.enabled.is_(True)).limit(1)):
        return  # no channel is on: notify would queue nothing, so do not ask it thousands of times
    subs = list(db.session.scalars(select(Subscription).where(Subscription.id.in_(ids))).unique())
    if many is not None:
        many("suspended", subs, dedupe_key=lambda sub: f"suspended:{sub.id}:{periods.key(now)}")
        return
    for sub in subs:
        send("suspended", sub.customer, subscription=sub, dedupe_key=f"suspended:{sub.id}:{periods.key(now)}")


def _loop(unit: Callable, chunk: Callable[[], tuple[int, int]]) -> int:
    """Run `chunk` in units until no candidate is left; the total moved."""
    total = 0
    while True:
        seen, moved = unit(chunk)
        total += moved
        if not seen:
            return total


def to_grace(now: datetime, unit: Callable = _inline) -> int:
    """Move every active service past paid_until to grace (those the renewal could not renew)."""
    now = periods.second(now)
    return _loop(unit, lambda: _grace_chunk(now))


def suspend(now: datetime, unit: Callable = _inline) -> int:
    """Suspend every service whose grace ended, and queue the router changes with a kick on `critical`."""
    now = periods.second(now)
    total = 0
    while True:
        seen, ids = unit(lambda: _suspend_chunk(now))
        total += len(ids)
        if ids:
            # After the suspension's own commit: the kicks never wait behind the messages.
            try:
                unit(lambda ids=ids: _notify_suspended(ids, now))
            except Exception:
                log.exception("suspended %d services but could not queue their notifications", len(ids))
        if not seen:
            return total


def due_moments(now: datetime, seconds: float) -> list[datetime]:
    """The distinct moments grace ends in the next `seconds` (the tick books an extra run at each)."""
    return sorted(set(db.session.scalars(select(Subscription.grace_until).where(
        Subscription.state == S.grace, Subscription.grace_until > now,
        Subscription.grace_until <= now + timedelta(seconds=seconds)).distinct().limit(100))))
