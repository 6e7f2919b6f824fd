"""Customer billing: invoices, payments and receipts, agents' wallets, settling services after money arrives.

Signs. A customer's ledger account holds what the customer has with us: positive is prepaid credit, negative
is debt. A `charge` (an invoice: a period, the new plan of a plan change) is negative; a `payment` and a
`credit` (a credit note) are positive; an `adjustment` is either sign, always with a reason; a `refund` is
money paid back out to the customer, so it is negative and never more than the credit they hold.

Invoices are immutable: nothing edits one. A correction is a credit note (an Invoice of kind credit_note
whose `corrects_id` names the invoice) posted as a `credit`. Invoices and credit notes share one numbering
sequence per year (INV-2026-000042).

Periods and states (the money side of isp.services.lifecycle):
- start: the first period is invoiced and charged at sign-up; the service becomes active if the balance is
  >= 0 after the charge, otherwise it stays pending and the period will run from the payment that covers it
  (the invoice keeps the dates it was issued with).
- renewal (the billing run, isp.services.renewal): at paid_until, if auto-renew is on and the balance covers
  the price, the next period is charged and paid_until moves on; otherwise the service goes to grace.
- grace: the renewal was NOT charged, so nothing is owed for it yet. Money that covers the price charges the
  next period from paid_until (the grace days served belong to it; from now if grace outlasted a period).
- suspended (paid_until passed): money that covers the price charges a fresh period from now and reactivates
  on `critical`. A service that staff suspended while paid up (paid_until still ahead) is left alone.
`settle` walks a customer's pending, grace and suspended services oldest first and brings back each one the
money still unallocated covers, skipping one it does not cover.

Agents (resellers allowed to sell services) who take a payment hold the cash: the customer is credited the
full amount, and the agent's wallet (their prepaid ledger account with the operator) gets a `commission`
credit of Settings' percentage and a `purchase` debit of the full amount, so it pays the operator the amount
less the commission. 1,000.00 at 10 %: customer +1,000.00; agent +100.00 and −1,000.00 (−900.00 net).
A wallet that cannot cover the net is refused before anything is written.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload

from isp.extensions import db
from isp.models import (
    Customer,
    CustomerEvent,
    EntryKind,
    Invoice,
    InvoiceKind,
    LedgerAccount,
    Payment,
    PaymentMethod,
    ServiceKind,
    ServicePlan,
    Subscription,
    SubscriptionState,
    User,
)
from isp.services import audit, branding, customers, ledger, lifecycle, numbering, periods
from isp.services.errors import ServiceError
from isp.units import with_currency

if TYPE_CHECKING:
    from isp.services.proration import Quote

S = SubscriptionState
OPEN = (S.pending, S.grace, S.suspended)  # services a payment may bring back
REFERENCE_REQUIRED = (PaymentMethod.bank, PaymentMethod.mobile)


def money(amount: Decimal) -> str:
    """An amount with the operator's currency, for memos and messages."""
    return with_currency(f"{Decimal(amount):,.2f}", branding.get().currency)


def notifier(name: str = "notify") -> Callable[..., object] | None:
    """isp.services.notifications.<name> when that module has it (it lands beside billing), else None."""
    try:
        from isp.services import notifications  # type: ignore[attr-defined]
    except ImportError:
        return None
    return getattr(notifications, name, None)


def notify(event: str, customer: Customer, subscription: Subscription | None = None, **context: object) -> None:
    """Hand an event ("payment", "suspended") to the notifications outbox, if there is one."""
    send = notifier()
    if send is not None:
        send(event, customer, subscription=subscription, **context)


# -- scoping: a reseller sees only their own customers' money -------------------------------------------


def scoped(stmt: Select, user: User, customer_col: ColumnElement | None = None) -> Select:
    """`stmt` limited to the customers `user` may see (isp.services.customers.scoped), through `customer_col`."""
    if user.has_role("reseller"):
        column = customer_col if customer_col is not None else Customer.id
        stmt = stmt.where(column.in_(customers.scoped(select(Customer.id), user)))
    return stmt


def customer_for(user: User, customer_id: int) -> Customer | None:
    """The customer if `user` may see it, else None (the view answers 404)."""
    return db.session.scalar(scoped(select(Customer).where(Customer.id == customer_id), user))


def invoice_for(user: User, invoice_id: int) -> Invoice | None:
    """The invoice or credit note if `user` may see its customer, else None."""
    return db.session.scalar(scoped(select(Invoice).where(Invoice.id == invoice_id), user, Invoice.customer_id))


def payment_for(user: User, payment_id: int) -> Payment | None:
    """The payment if `user` may see its customer, else None."""
    return db.session.scalar(scoped(select(Payment).where(Payment.id == payment_id), user, Payment.customer_id))


def subscription_for(user: User, subscription_id: int) -> Subscription | None:
    """The subscription if `user` may see its customer, else None."""
    return db.session.scalar(scoped(select(Subscription).where(Subscription.id == subscription_id), user,
                                    Subscription.customer_id))


def balance_of(customer_id: int) -> Decimal:
    """The customer's balance as the ledger caches it (0.00 before the first entry)."""
    value = db.session.scalar(select(LedgerAccount.balance).where(LedgerAccount.customer_id == customer_id))
    return Decimal(value if value is not None else 0).quantize(periods.CENT)


def event(customer_id: int, kind: str, summary: str, actor: User | None, subscription_id: int | None = None) -> None:
    """A line on the customer's timeline that is about money rather than one service's state."""
    db.session.add(CustomerEvent(customer_id=customer_id, subscription_id=subscription_id, kind=kind,
                                 summary=summary[:1000], actor_id=actor.id if actor else None))


# -- invoices -------------------------------------------------------------------------------------------


def issue(customer_id: int, sub: Subscription | None, kind: InvoiceKind, start: datetime, end: datetime,
          amount: Decimal, description: str, actor: User | None, corrects_id: int | None = None) -> Invoice:
    """Number and store one invoice or credit note (the caller posts the ledger entry)."""
    now = periods.second()
    invoice = Invoice(number=numbering.document_numbers("invoice", now)[0], kind=kind, customer_id=customer_id,
                      subscription_id=sub.id if sub else None, corrects_id=corrects_id, period_start=periods.second(start),
                      period_end=periods.second(end), description=description[:255],
                      amount=Decimal(amount).quantize(periods.CENT), currency=branding.get().currency, issued_at=now,
                      created_by_id=actor.id if actor else None)
    db.session.add(invoice)
    db.session.flush()
    return invoice


def period_description(sub: Subscription, start: datetime, end: datetime) -> str:
    """'Fiber 20M, pppoe user alice: 2026-01-31 to 2026-02-28'."""
    return f"{sub.plan.name}, {sub.kind.value} {sub.username}: {start:%Y-%m-%d} to {end:%Y-%m-%d}"


def charge_period(sub: Subscription, start: datetime, actor: User | None) -> Invoice | None:
    """Invoice and charge one period of the service's plan from `start`; idempotent on (service, period start).

    Returns the period's invoice (the existing one when it was already charged); None for a free plan.
    """
    start = periods.second(start)
    key = f"renewal:{sub.id}:{periods.key(start)}"
    account = ledger.customer_account(sub.customer_id)
    ledger.lock(account)  # the account before the invoice counter, in every path, so two units never cross
    done = ledger.posted(key)
    if done is not None:
        return db.session.get(Invoice, done.invoice_id) if done.invoice_id else None
    price = Decimal(sub.plan.price).quantize(periods.CENT)
    if price <= 0:
        return None
    end = periods.period_end(start, sub.plan)
    invoice = issue(sub.customer_id, sub, InvoiceKind.invoice, start, end, price, period_description(sub, start, end), actor)
    ledger.post(account, EntryKind.charge, -price, f"Invoice {invoice.number}: {invoice.description}", actor,
                allow_overdraft=True, invoice_id=invoice.id, idem_key=key)
    lifecycle.record(sub, "invoice", f"Invoice {invoice.number} issued: {money(price)} for {start:%Y-%m-%d} to {end:%Y-%m-%d}",
                     actor)
    return invoice


def activate(sub: Subscription, start: datetime, actor: User | None, reason: str) -> None:
    """Open a period from `start` and make the service active (the router change is queued at commit).

    A service that was on its fair-use profile is kicked too (pppoe, hotspot), so the live session comes back
    at the plan's full speed: RouterOS applies a profile's rate limit only when a session starts.
    """
    capped = sub.fup_active and sub.kind in (ServiceKind.pppoe, ServiceKind.hotspot)
    sub.period_start, sub.paid_until = start, periods.period_end(start, sub.plan)
    sub.period_bytes, sub.fup_active = 0, False
    lifecycle.transition(sub, S.active, actor, reason, kick=capped)


# -- settling: money arrived, bring services back -----------------------------------------------------------


def _pending_owed(sub_ids: list[int]) -> dict[int, Decimal]:
    """What each pending service's invoices still hold against the balance (invoices less credit notes)."""
    if not sub_ids:
        return {}
    signed = func.sum(case((Invoice.kind == InvoiceKind.invoice, Invoice.amount), else_=-Invoice.amount))
    rows = db.session.execute(select(Invoice.subscription_id, signed).where(Invoice.subscription_id.in_(sub_ids))
                              .group_by(Invoice.subscription_id))
    return {sub_id: Decimal(total or 0).quantize(periods.CENT) for sub_id, total in rows}


def allocation(customer_id: int, extra: Decimal = Decimal("0.00"), now: datetime | None = None,
               lock: bool = False) -> list[tuple[Subscription, Decimal, Decimal]]:
    """(service, what it costs, how much is still missing for it) for each service money could bring back, oldest first.

    Missing 0.00 means the money covers it.
    `extra` is money about to arrive (the payment form's preview). Money not yet allocated is the balance as if
    the pending services' invoices were not charged yet; each service it covers takes its share, one it does
    not cover is skipped. A suspended service still paid up (suspended by staff) is not listed.
    """
    now = periods.second(now)
    stmt = select(Subscription.id).where(Subscription.customer_id == customer_id, Subscription.state.in_(OPEN))
    ids = list(db.session.scalars(stmt.with_for_update() if lock else stmt))
    if not ids:
        return []
    subs = [s for s in db.session.scalars(select(Subscription).where(Subscription.id.in_(ids)).order_by(Subscription.id)
                                          .execution_options(populate_existing=True)).unique()
            if not (s.state == S.suspended and s.paid_until is not None and s.paid_until > now)]
    owed = _pending_owed([s.id for s in subs if s.state == S.pending])
    available = balance_of(customer_id) + sum(owed.values(), Decimal("0.00")) + extra
    out = []
    for sub in subs:
        need = owed.get(sub.id, Decimal(sub.plan.price).quantize(periods.CENT))
        missing = max(need - available, Decimal("0.00"))
        available -= need if not missing else 0
        out.append((sub, need, missing))
    return out


def settle(customer_id: int, actor: User | None, now: datetime | None = None) -> list[Subscription]:
    """Bring back the customer's pending, grace and suspended services the balance now covers, oldest first."""
    now = periods.second(now)
    done = []
    for sub, _need, missing in allocation(customer_id, now=now, lock=True):
        if missing:
            continue
        if sub.state == S.pending:
            if not db.session.scalar(select(Invoice.id).where(Invoice.subscription_id == sub.id).limit(1)):
                charge_period(sub, now, actor)
            activate(sub, now, actor, "Payment received: the service starts")
        else:
            start = now
            if sub.state == S.grace and sub.paid_until is not None and periods.period_end(sub.paid_until, sub.plan) > now:
                start = periods.second(sub.paid_until)
            reason = "Payment received: the service is renewed" if sub.state == S.grace else \
                "Payment received: the service is reconnected"
            charge_period(sub, start, actor)
            activate(sub, start, actor, reason)
        done.append(sub)
    return done


# -- payments -------------------------------------------------------------------------------------------


def check_reference(method: PaymentMethod, reference: str | None) -> str | None:
    """The reference as stored (None when blank); refuses one already recorded under the same method."""
    reference = " ".join((reference or "").split()) or None
    if reference is None:
        if method in REFERENCE_REQUIRED:
            raise ServiceError(f"A {method.label.lower()} needs its reference (the transaction code on the slip or SMS).",
                               field="reference")
        return None
    if len(reference) > 64:
        raise ServiceError("The reference is too long: at most 64 characters.", field="reference")
    existing = payment_by_reference(method, reference)
    if existing is not None:
        raise duplicate(existing)
    return reference


def payment_by_reference(method: PaymentMethod | str, reference: str) -> Payment | None:
    """The payment recorded under this method and (stored) reference, if any.

    Without the joined customer and clerk: joined, SQLite's planner may scan every payment instead of using the
    (method, reference) key once statistics say most references are blank (cash has none).
    """
    return db.session.scalar(select(Payment).where(Payment.method == PaymentMethod(method), Payment.reference == reference)
                             .options(lazyload("*")))


def duplicate(existing: Payment) -> ServiceError:
    """The refusal for a reference already recorded."""
    return ServiceError(f"This {existing.method.label.lower()} reference was already recorded on receipt {existing.number} "
                        f"for {existing.customer.account_no}.", field="reference")


def form_key(nonce: str | None) -> str | None:
    """The ledger idem_key of a form's one-time nonce ("form:<nonce>"), None without one.

    Forms that move money carry a nonce made when the page was shown (secrets.token_urlsafe); a second submit of
    the same page finds its entry already posted and is refused instead of posting the money twice.
    """
    nonce = (nonce or "").strip()
    if not nonce:
        return None
    if len(nonce) > 64 or not all(c.isascii() and (c.isalnum() or c in "-_") for c in nonce):
        raise ServiceError("This form is damaged; reload the page and enter it again.", field="amount")
    return f"form:{nonce}"


def record_payment(customer: Customer, amount: Decimal | str, method: PaymentMethod | str, reference: str | None,
                   note: str | None, actor: User, nonce: str | None = None) -> Payment:
    """Record money received with its receipt, credit the customer, charge an agent's wallet, and settle services.

    `nonce` (optional: the CLI, the import and tests go without) is the payment form's one-time token: the same
    form posted twice records one payment and refuses the second with its receipt number.
    """
    method = PaymentMethod(method)
    amount = ledger.parse_money(amount)
    note = " ".join((note or "").split())
    if len(note) > 200:
        raise ServiceError("The note is too long: at most 200 characters.", field="note")
    if actor.has_role("reseller") and (customer.reseller_id != actor.id or not actor.can_sell_services):
        raise ServiceError("Your account may not take payments for this customer.", field="amount")
    key = form_key(nonce)
    account = ledger.customer_account(customer.id)
    ledger.lock(account)
    done = ledger.posted(key) if key else None
    if done is not None:
        receipt = db.session.get(Payment, done.payment_id) if done.payment_id else None
        raise ServiceError("This payment was already recorded" + (f" (receipt {receipt.number})." if receipt else "."),
                           field="amount")
    reference = check_reference(method, reference)
    now = periods.second()
    payment = Payment(number=numbering.document_numbers("receipt", now)[0], customer_id=customer.id, amount=amount,
                      currency=branding.get().currency, method=method, reference=reference, note=note,
                      taken_by_id=actor.id, received_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(payment)
    except IntegrityError:
        # Another desk recorded the same reference a moment ago (the unique constraint caught the race).
        existing = payment_by_reference(method, reference)
        if existing is None:
            raise
        raise duplicate(existing) from None
    ledger.post(account, EntryKind.payment, amount, f"Payment {payment.number} ({method.label}"
                f"{', ref ' + reference if reference else ''})", actor, payment_id=payment.id,
                idem_key=key or f"payment:{payment.id}")
    if actor.has_role("reseller"):
        agent_side(payment, customer, actor)
    event(customer.id, "payment", f"Payment {payment.number}: {money(amount)} by {method.label.lower()}"
          f"{' (ref ' + reference + ')' if reference else ''}", actor)
    audit.record(actor, "billing.payment", payment.number, f"{money(amount)} from {customer.account_no}", obj=payment,
                 changes=audit.diff({}, audit.state(payment)))
    settle(customer.id, actor, now)
    notify("payment", customer, dedupe_key=f"payment:{payment.id}", amount=amount, reference=reference or payment.number)
    return payment


def agent_side(payment: Payment, customer: Customer, agent: User) -> None:
    """The agent's wallet pays the operator what they collected, less their commission (see the module docstring)."""
    rate = Decimal(branding.get().agent_commission_percent or 0)
    commission = periods.percent(payment.amount, rate)
    net = payment.amount - commission
    wallet = ledger.account_for(agent)
    ledger.lock(wallet)
    held = ledger.balance(wallet.id)
    if held < net:
        raise ServiceError(f"Your wallet holds {money(held)}; this payment needs {money(net)} from it ({money(payment.amount)} "
                           f"less your {rate.normalize():f}% commission of {money(commission)}). Top up your wallet first.",
                           field="amount")
    if commission > 0:
        ledger.post(wallet, EntryKind.commission, commission, f"Commission {rate.normalize():f}% on {payment.number} "
                    f"({customer.account_no})", agent, payment_id=payment.id, idem_key=f"agent-commission:{payment.id}")
    ledger.post(wallet, EntryKind.purchase, -payment.amount, f"Payment {payment.number} taken for {customer.account_no}",
                agent, payment_id=payment.id, idem_key=f"agent-payment:{payment.id}")


# -- the names the rest of the house calls (the work lives in renewal and proration) ----------------------------


def run(now: datetime | None = None, unit: Callable | None = None) -> dict[str, int]:
    """The billing run over every due service: {renewed, grace, suspended} (see isp.services.renewal)."""
    from isp.services import renewal

    return renewal.run(now, unit) if unit else renewal.run(now)


def change_plan_quote(sub: Subscription, new_plan: ServicePlan, at: datetime | None = None) -> Quote:
    """The figures of a plan change before it is confirmed (see isp.services.proration)."""
    from isp.services import proration

    return proration.quote(sub, new_plan, at)


def change_plan(sub: Subscription, new_plan: ServicePlan, actor: User, at: datetime | None = None) -> Quote:
    """Prorate and switch the plan: credit note, invoice, router change (see isp.services.proration)."""
    from isp.services import proration

    return proration.change_plan(sub, new_plan, actor, at)
