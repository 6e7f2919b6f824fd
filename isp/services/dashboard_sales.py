"""The dashboard's money figures: voucher sales today and this month, billing due today, a reseller's stock.

A sale is what the sales report counts (isp.services.reports): a voucher's first login, at its face price, on the
operator's local day (ISP_TIMEZONE). Each figure is one aggregate query; a reseller's are filtered in SQL.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select

from isp.extensions import db
from isp.models import HotspotPlan, Subscription, SubscriptionState, Voucher, VoucherState
from isp.services.reports import local_midnight

ZERO = Decimal("0.00")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Window:
    """The UTC bounds of the operator's local today and this month."""

    today: datetime      # local midnight today
    tomorrow: datetime   # local midnight tomorrow (end of both ranges)
    month: datetime      # local midnight on the 1st of this month


@dataclass(frozen=True)
class Sales:
    """Vouchers first used today and this month, and their face value."""

    today: int
    today_revenue: Decimal
    month: int
    month_revenue: Decimal


def window(now: datetime, tz: ZoneInfo | str) -> Window:
    """Today's and this month's bounds in UTC for the operator's timezone at `now`."""
    tz = ZoneInfo(tz) if isinstance(tz, str) else tz
    day = now.astimezone(tz).date()
    return Window(local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz), local_midnight(day.replace(day=1), tz))


def _money(value: object) -> Decimal:
    return ZERO if value is None else Decimal(str(value)).quantize(CENT)


def voucher_sales(win: Window, reseller_id: int | None = None) -> Sales:
    """Activations and face value today and this month (one query; only `reseller_id`'s vouchers when given)."""
    today = Voucher.first_login_at >= win.today
    stmt = select(func.count(), func.sum(Voucher.price), func.sum(case((today, 1), else_=0)),
                  func.sum(case((today, Voucher.price), else_=None))
                  ).where(Voucher.first_login_at >= win.month, Voucher.first_login_at < win.tomorrow)
    if reseller_id is not None:
        stmt = stmt.where(Voucher.reseller_id == reseller_id)
    month_n, month_total, today_n, today_total = db.session.execute(stmt).one()
    return Sales(today=int(today_n or 0), today_revenue=_money(today_total),
                 month=int(month_n or 0), month_revenue=_money(month_total))


def billing_today(win: Window) -> dict[str, int]:
    """Subscriptions whose paid period ends today, and those suspended today (one statement, two index ranges)."""
    due = (select(func.count()).select_from(Subscription)
           .where(Subscription.state == SubscriptionState.active,
                  Subscription.paid_until >= win.today, Subscription.paid_until < win.tomorrow).scalar_subquery())
    suspended = (select(func.count()).select_from(Subscription)
                 .where(Subscription.state == SubscriptionState.suspended,
                        Subscription.state_changed_at >= win.today).scalar_subquery())
    n_due, n_suspended = db.session.execute(select(due, suspended)).one()
    return {"due": int(n_due or 0), "suspended": int(n_suspended or 0)}


def reseller_stock(reseller_id: int) -> list[tuple[int, str, int]]:
    """A reseller's unsold vouchers per plan: [(plan id, plan name, count)], by plan name."""
    rows = db.session.execute(
        select(HotspotPlan.id, HotspotPlan.name, func.count())
        .select_from(Voucher).join(HotspotPlan, HotspotPlan.id == Voucher.plan_id)
        .where(Voucher.reseller_id == reseller_id, Voucher.state == VoucherState.unused)
        .group_by(HotspotPlan.id, HotspotPlan.name).order_by(HotspotPlan.name))
    return [(plan_id, name, int(n)) for plan_id, name, n in rows]
