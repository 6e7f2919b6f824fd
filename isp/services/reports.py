"""Sales reports: voucher activations and their face value, aggregated in SQL, by local day, plan, reseller or router."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Date, SQLColumnExpression, case, func, literal, select
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from isp.extensions import db
from isp.models import AccountKind, EntryKind, HotspotPlan, LedgerAccount, LedgerEntry, Router, User, Voucher
from isp.services import csvout

GROUPS = {"day": "Day", "plan": "Plan", "reseller": "Reseller", "router": "Router"}
MAX_DAYS = 366
DIRECT = "Direct sales"
ZERO = Decimal("0.00")
CENT = Decimal("0.01")
# Offsets change at most twice a year; probing every 6 hours cannot step over a change and back.
PROBE = timedelta(hours=6)


class local_date(FunctionElement):  # noqa: N801 (named like the SQL function it stands for)
    """local_date(utc_column, minutes): the calendar date of a naive-UTC column shifted by `minutes`."""

    type = Date()
    inherit_cache = True
    name = "local_date"


@compiles(local_date)
def _local_date_unsupported(element: local_date, compiler: SQLCompiler, **kw: object) -> str:
    raise CompileError(f"local_date() is not implemented for {compiler.dialect.name}")


@compiles(local_date, "sqlite")
def _local_date_sqlite(element: local_date, compiler: SQLCompiler, **kw: object) -> str:
    column, minutes = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"date({column}, ({minutes}) || ' minutes')"


@compiles(local_date, "mysql")
@compiles(local_date, "mariadb")
def _local_date_mysql(element: local_date, compiler: SQLCompiler, **kw: object) -> str:
    column, minutes = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"DATE(DATE_ADD({column}, INTERVAL ({minutes}) MINUTE))"


@dataclass(frozen=True)
class Row:
    """One line of the report; purchases only for resellers in the reseller grouping."""

    key: object  # the local date, or the plan / router / reseller id (None: direct sales)
    label: str
    activations: int
    revenue: Decimal
    purchases: Decimal | None = None


@dataclass(frozen=True)
class SalesReport:
    """Activations and face value over [start, end] in the operator's timezone, with totals."""

    start: date
    end: date
    group: str
    tz_name: str
    rows: list[Row]
    activations: int
    revenue: Decimal
    purchases: Decimal  # net reseller purchases (purchases minus refunds) over the range

    @property
    def days(self) -> int:
        """Calendar days covered."""
        return (self.end - self.start).days + 1

    @property
    def average(self) -> Decimal | None:
        """Face value per activation."""
        return (self.revenue / self.activations).quantize(CENT) if self.activations else None


def _money(value: Decimal | None) -> Decimal:
    return ZERO if value is None else Decimal(value).quantize(CENT)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant a local day starts (a midnight skipped by DST maps to the day's first real instant)."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _offset_minutes(at: datetime, tz: ZoneInfo) -> int:
    return int(at.astimezone(tz).utcoffset().total_seconds()) // 60


def offset_changes(tz: ZoneInfo, lo: datetime, hi: datetime) -> list[tuple[datetime, int]]:
    """[(from, minutes)]: the UTC offset in force from each UTC instant on, over [lo, hi)."""
    changes = [(lo, _offset_minutes(lo, tz))]
    probe = lo
    while probe < hi:
        step = min(probe + PROBE, hi)
        if _offset_minutes(step, tz) != changes[-1][1]:
            # Bisect whole seconds (transitions fall on them) down to the first one with the new offset.
            old, new = int(probe.timestamp()), int(step.timestamp())
            while new - old > 1:
                mid = (old + new) // 2
                old, new = (mid, new) if _offset_minutes(_utc(mid), tz) == changes[-1][1] else (old, mid)
            changes.append((_utc(new), _offset_minutes(_utc(new), tz)))
        probe = step
    return changes


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _local_day(column: SQLColumnExpression[datetime], changes: list[tuple[datetime, int]]) -> local_date:
    """SQL: the local date of a UTC column, exact for any offset (half hours too) and across DST changes."""
    if len(changes) == 1:
        offset = literal(changes[0][1])
    else:
        offset = case(*[(column < changes[i + 1][0], minutes) for i, (_, minutes) in enumerate(changes[:-1])],
                      else_=changes[-1][1])
    return local_date(column, offset)


def _in_range(lo: datetime, hi: datetime) -> tuple:
    return Voucher.first_login_at >= lo, Voucher.first_login_at < hi


def _by_day(start: date, end: date, tz: ZoneInfo, lo: datetime, hi: datetime) -> list[Row]:
    """One row per local day of the range, days without activations included."""
    inner = select(_local_day(Voucher.first_login_at, offset_changes(tz, lo, hi)).label("day"),
                   Voucher.price).where(*_in_range(lo, hi)).subquery()
    found = {day: (n, total) for day, n, total in db.session.execute(
        select(inner.c.day, func.count(), func.sum(inner.c.price)).group_by(inner.c.day))}
    rows = []
    for offset in range((end - start).days + 1):
        day = start + timedelta(days=offset)
        n, total = found.get(day, (0, None))
        rows.append(Row(day, day.isoformat(), n, _money(total)))
    return rows


# group -> (key column, label column, joined entity, join condition)
_JOINS = {
    "plan": (Voucher.plan_id, HotspotPlan.name, HotspotPlan, Voucher.plan_id == HotspotPlan.id),
    "router": (Voucher.router_id, Router.name, Router, Voucher.router_id == Router.id),
    "reseller": (Voucher.reseller_id, User.username, User, Voucher.reseller_id == User.id),
}


def _by_key(group: str, lo: datetime, hi: datetime, purchases: dict[int, tuple[str, Decimal]]) -> list[Row]:
    """One row per plan, router or reseller (NULL reseller: direct sales), biggest revenue first."""
    key, label, entity, onclause = _JOINS[group]
    stmt = (select(key, label, func.count(), func.sum(Voucher.price)).select_from(Voucher)
            .outerjoin(entity, onclause).where(*_in_range(lo, hi)).group_by(key, label))
    rows = [Row(k, name if k is not None else DIRECT, n, _money(total),
                purchases.get(k, (name, ZERO))[1] if group == "reseller" and k is not None else None)
            for k, name, n, total in db.session.execute(stmt)]
    if group == "reseller":  # resellers who bought in the range although none of their vouchers was used yet
        seen = {row.key for row in rows}
        rows += [Row(uid, name, 0, ZERO, paid) for uid, (name, paid) in purchases.items() if uid not in seen]
    return sorted(rows, key=lambda row: (-row.revenue, -row.activations, row.label.lower()))


def reseller_purchases(lo: datetime, hi: datetime) -> dict[int, tuple[str, Decimal]]:
    """Per reseller user id: (username, what they paid for vouchers in [lo, hi) net of refunds)."""
    stmt = (select(User.id, User.username, func.sum(LedgerEntry.amount))
            .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
            .join(User, User.id == LedgerAccount.user_id)
            .where(LedgerAccount.kind == AccountKind.reseller,
                   LedgerEntry.kind.in_([EntryKind.purchase, EntryKind.refund]),
                   LedgerEntry.created_at >= lo, LedgerEntry.created_at < hi)
            .group_by(User.id, User.username))
    # Purchases are negative entries, refunds positive: paid = -(sum).
    return {uid: (name, ZERO - _money(total)) for uid, name, total in db.session.execute(stmt)}


def sales(start: date, end: date, group: str, tz: ZoneInfo | str) -> SalesReport:
    """Vouchers first used between local `start` and `end` (inclusive, any state since) and their face value."""
    tz = ZoneInfo(tz) if isinstance(tz, str) else tz
    if group not in GROUPS:
        raise ValueError(f"unknown grouping {group!r}")
    if end < start or (end - start).days + 1 > MAX_DAYS:
        raise ValueError(f"the range must run forward and cover at most {MAX_DAYS} days")
    lo, hi = local_midnight(start, tz), local_midnight(end + timedelta(days=1), tz)
    purchases = reseller_purchases(lo, hi)
    rows = _by_day(start, end, tz, lo, hi) if group == "day" else _by_key(group, lo, hi, purchases)
    return SalesReport(start=start, end=end, group=group, tz_name=tz.key, rows=rows,
                       activations=sum(row.activations for row in rows),
                       revenue=sum((row.revenue for row in rows), ZERO),
                       purchases=sum((paid for _, paid in purchases.values()), ZERO))


def sales_csv(report: SalesReport) -> str:
    """The report as CSV: one row per line, then the totals; money with two decimals."""
    with_purchases = report.group == "reseller"
    header = [GROUPS[report.group], "Activations", "Revenue"] + (["Reseller purchases"] if with_purchases else [])
    rows = []
    for row in report.rows:
        paid = [] if not with_purchases else ["" if row.purchases is None else f"{row.purchases:.2f}"]
        rows.append([row.label, row.activations, f"{row.revenue:.2f}"] + paid)
    rows.append(["Total", report.activations, f"{report.revenue:.2f}"] + ([f"{report.purchases:.2f}"] if with_purchases else []))
    return csvout.render(header, rows)


def csv_filename(report: SalesReport) -> str:
    """sales-by-plan-2024-03-01-to-2024-03-31.csv"""
    return f"sales-by-{report.group}-{report.start.isoformat()}-to-{report.end.isoformat()}.csv"
