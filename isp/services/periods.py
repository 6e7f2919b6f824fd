"""Billing periods: calendar months with the day clamped, or N days; whole seconds, aware UTC.

A monthly period ends on the same day of a later month, clamped to that month's length: Jan 31 + 1 month is
Feb 28 (29 in a leap year), and the next period runs from Feb 28 to Mar 28 (periods follow the previous end;
the original day is not remembered). Times are UTC and whole seconds, because MariaDB's DATETIME keeps no
fraction: a period start read back from either database is exactly the value written, so the idempotency
keys built from it ("renewal:<subscription>:<period start>") are stable.
"""
from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from isp.models import PeriodUnit, ServicePlan
from isp.models.base import utcnow

CENT = Decimal("0.01")


def second(moment: datetime | None = None) -> datetime:
    """`moment` (default now) as aware UTC without a fraction of a second."""
    moment = moment or utcnow()
    if moment.tzinfo is None:
        raise ValueError("naive datetime given; use aware UTC")
    return moment.astimezone(UTC).replace(microsecond=0)


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` plus whole calendar months, the day clamped to the target month's length."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def advance(start: datetime, unit: PeriodUnit, count: int) -> datetime:
    """The end of a period of `count` months or days that begins at `start`."""
    count = max(int(count or 1), 1)
    if unit == PeriodUnit.month:
        return add_months(start, count)
    return start + timedelta(days=count)


def period_end(start: datetime, plan: ServicePlan) -> datetime:
    """The end of one billing period of `plan` that begins at `start`."""
    return advance(start, plan.period_unit, plan.period_count)


def key(moment: datetime) -> str:
    """A moment as it appears in idempotency keys: ISO 8601 UTC to the second."""
    return second(moment).isoformat()


def prorate(amount: Decimal, part: timedelta, whole: timedelta) -> Decimal:
    """`amount` × part / whole, to the cent, half up (0 when the whole is empty; never more than amount)."""
    if whole.total_seconds() <= 0 or part.total_seconds() <= 0:
        return Decimal("0.00")
    if part >= whole:
        return Decimal(amount).quantize(CENT)
    share = Decimal(amount) * Decimal(int(part.total_seconds())) / Decimal(int(whole.total_seconds()))
    return share.quantize(CENT, rounding=ROUND_HALF_UP)


def percent(amount: Decimal, rate: Decimal) -> Decimal:
    """`rate` percent of `amount`, to the cent, half up."""
    return (Decimal(amount) * Decimal(rate) / Decimal(100)).quantize(CENT, rounding=ROUND_HALF_UP)
