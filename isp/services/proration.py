"""Plan changes in the middle of a period: credit the unused part of the old plan, charge the new one for the rest.

The period does not move: paid_until stays, so the customer's renewal day is the same after a change. The
credit is what was charged for the period (the invoice covering the moment of change) times the share of it
still ahead, to the cent, half up; the charge is the new plan's price times the share of the whole current
period still ahead. 30-day plan at 3,000.00, changed after 10 days to 4,500.00: credit 3,000.00 × 20/30 =
2,000.00 (a credit note against the period's invoice) and charge 4,500.00 × 20/30 = 3,000.00 (an invoice for
the remaining 20 days). A pending service (never started) gets its whole first invoice back and the new
plan's whole price invoiced. A service past paid_until (grace, suspended) has nothing left to prorate: the
new price applies from the next period.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from isp.extensions import db
from isp.models import (
    EntryKind,
    Invoice,
    InvoiceKind,
    Priority,
    ServiceKind,
    ServicePlan,
    Subscription,
    SubscriptionState,
    User,
)
from isp.services import adjustments, audit, billing, ledger, lifecycle, periods, provisioning
from isp.services.errors import ServiceError

S = SubscriptionState
QUOTE_VALID = timedelta(minutes=15)  # a quote confirmed later than this is refused (the figures would have moved)
ZERO = Decimal("0.00")
SESSIONS = (ServiceKind.pppoe, ServiceKind.hotspot)  # kinds whose live sessions hold a profile until they redial


@dataclass(frozen=True)
class Quote:
    """The figures of a plan change, shown before it is confirmed and then posted exactly."""

    at: datetime
    old_plan: ServicePlan
    new_plan: ServicePlan
    period_start: datetime | None
    period_end: datetime | None
    remaining: timedelta
    total: timedelta
    credit: Decimal
    charge: Decimal
    corrects: Invoice | None
    balance: Decimal

    @property
    def net(self) -> Decimal:
        """What the customer pays (positive) or gets back (negative) overall."""
        return self.charge - self.credit

    @property
    def balance_after(self) -> Decimal:
        """The balance once the change is posted."""
        return self.balance - self.net

    @property
    def days_left(self) -> str:
        """The remaining share in days, e.g. '20 of 30 days'."""
        return f"{self.remaining.total_seconds() / 86400:.1f}".removesuffix(".0") + " of " + \
            f"{self.total.total_seconds() / 86400:.1f}".removesuffix(".0") + " days"


def plans_for(sub: Subscription) -> list[ServicePlan]:
    """Plans the service may change to: active, same kind, sold on its router, not its current one."""
    rows = db.session.scalars(select(ServicePlan).where(ServicePlan.active.is_(True), ServicePlan.kind == sub.kind,
                                                        ServicePlan.id != sub.plan_id).order_by(ServicePlan.name))
    return [p for p in rows if any(r.id == sub.router_id for r in p.routers)]


def _check(sub: Subscription, plan: ServicePlan) -> None:
    if sub.state == S.terminated:
        raise ServiceError("A terminated service cannot change plan.", field="plan_id")
    if plan.id == sub.plan_id:
        raise ServiceError(f"The service is already on {plan.name}.", field="plan_id")
    if plan.kind != sub.kind or not plan.active or all(r.id != sub.router_id for r in plan.routers):
        raise ServiceError(f"{plan.name} is not an active {sub.kind.label} plan sold on {sub.router.name}.", field="plan_id")


def _covering(sub: Subscription, at: datetime) -> Invoice | None:
    """The invoice that charged the part of the period ahead of `at` (the latest one ending at paid_until)."""
    return db.session.scalar(select(Invoice).where(
        Invoice.subscription_id == sub.id, Invoice.kind == InvoiceKind.invoice, Invoice.period_start <= at,
        Invoice.period_end == sub.paid_until).order_by(Invoice.id.desc()).limit(1))


def quote(sub: Subscription, plan: ServicePlan, at: datetime | None = None) -> Quote:
    """The credit and charge of moving `sub` to `plan` at `at` (now by default); nothing is written."""
    _check(sub, plan)
    at = periods.second(at)
    balance = billing.balance_of(sub.customer_id)
    if sub.state == S.pending:
        first = db.session.scalar(select(Invoice).where(Invoice.subscription_id == sub.id, Invoice.kind == InvoiceKind.invoice)
                                  .order_by(Invoice.id.desc()).limit(1))
        credit = first.amount - adjustments.credited(first.id) if first else ZERO
        if first is not None and first.period_start >= at:
            at = first.period_start + timedelta(seconds=1)  # changed the second it was signed up: keep the keys apart
        end = periods.period_end(at, plan)
        return Quote(at, sub.plan, plan, at, end, end - at, end - at, max(credit, ZERO),
                     Decimal(plan.price).quantize(periods.CENT), first, balance)
    if sub.state not in (S.active, S.grace) or sub.paid_until is None or sub.period_start is None or sub.paid_until <= at:
        return Quote(at, sub.plan, plan, sub.period_start, sub.paid_until, timedelta(0), timedelta(0), ZERO, ZERO, None, balance)
    if at == sub.period_start:
        at += timedelta(seconds=1)  # changed the second the period began: the period's invoice holds that start
    remaining, total = sub.paid_until - max(at, sub.period_start), sub.paid_until - sub.period_start
    covering = _covering(sub, at)
    if covering is not None:
        left = covering.amount - adjustments.credited(covering.id)
        credit = min(periods.prorate(covering.amount, remaining, covering.period_end - covering.period_start), max(left, ZERO))
    else:  # a period charged before billing existed (an import): the old plan's price stands in
        credit = periods.prorate(sub.plan.price, remaining, total)
    return Quote(at, sub.plan, plan, sub.period_start, sub.paid_until, remaining, total, credit,
                 periods.prorate(plan.price, remaining, total), covering, balance)


def change_plan(sub: Subscription, plan: ServicePlan, actor: User, at: datetime | None = None) -> Quote:
    """Post the quote's credit note and invoice, switch the plan and queue the router change (staff only).

    `at` is the moment the confirmed quote was made, so the figures posted are the figures shown; a quote older
    than QUOTE_VALID, or made before the service's current period began, is refused.
    """
    if not actor.has_role("admin", "operator"):
        raise ServiceError("Only staff may change a service's plan.", field="plan_id")
    now = periods.second()
    at = periods.second(at or now)
    if not now - QUOTE_VALID <= at <= now + timedelta(seconds=5) or (sub.period_start and at < sub.period_start
                                                                      and sub.state != S.pending):
        raise ServiceError("These figures are out of date: check the new quote and confirm again.", field="plan_id")
    account = ledger.customer_account(sub.customer_id)
    ledger.lock(account)
    figures = quote(sub, plan, at)
    at = figures.at
    stamp = f"{sub.id}:{periods.key(at)}"
    end = figures.period_end or at
    try:
        with db.session.begin_nested():
            if figures.credit > 0:
                note = billing.issue(sub.customer_id, sub, InvoiceKind.credit_note, at, end, figures.credit,
                                     f"Unused {figures.old_plan.name} from {at:%Y-%m-%d} ({figures.days_left})", actor,
                                     corrects_id=figures.corrects.id if figures.corrects else None)
                ledger.post(account, EntryKind.credit, figures.credit, f"Credit note {note.number}: plan change", actor,
                            invoice_id=note.id, idem_key=f"planchange-credit:{stamp}")
            if figures.charge > 0:
                invoice = billing.issue(sub.customer_id, sub, InvoiceKind.invoice, at, end, figures.charge,
                                        f"{plan.name}, {sub.kind.value} {sub.username}: {at:%Y-%m-%d} to {end:%Y-%m-%d}"
                                        f" ({figures.days_left})", actor)
                ledger.post(account, EntryKind.charge, -figures.charge, f"Invoice {invoice.number}: plan change", actor,
                            allow_overdraft=True, invoice_id=invoice.id, idem_key=f"planchange-charge:{stamp}")
    except IntegrityError:
        raise ServiceError("This plan change was just made; reload the page.", field="plan_id") from None
    old = sub.plan
    sub.plan_id, sub.plan = plan.id, plan
    lifecycle.record(sub, "plan", f"Plan changed from {old.name} to {plan.name}: credit {billing.money(figures.credit)}, "
                     f"charge {billing.money(figures.charge)}", actor)
    audit.record(actor, "billing.change_plan", f"{sub.kind.value}:{sub.username}", f"{old.name} → {plan.name}, "
                 f"credit {figures.credit:.2f}, charge {figures.charge:.2f}", obj=sub,
                 changes={"plan": [old.name, plan.name]})
    db.session.flush()
    # A live session keeps the speed it dialled in with: kick it so it comes back on the new plan's profile.
    provisioning.sync(sub, Priority.high, kick=sub.kind in SESSIONS)
    billing.settle(sub.customer_id, actor, now)
    return figures
