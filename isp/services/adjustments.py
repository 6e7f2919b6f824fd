"""Staff corrections of a customer's money: adjustments, credit notes and refunds, each with a mandatory reason.

Signs as in isp.services.billing: an adjustment is either sign (positive gives the customer money); a credit
note is a positive `credit` against one invoice (never more than what is left of it); a refund is money paid
back out, a negative `refund`, never more than the credit the customer holds. Money that comes in (a positive
adjustment, a credit note) settles the customer's services like a payment does.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from isp.extensions import db
from isp.models import Customer, EntryKind, Invoice, InvoiceKind, LedgerEntry, PaymentMethod, User
from isp.services import audit, billing, ledger, periods
from isp.services.errors import ServiceError

MAX_REASON = 200


def reason_text(text: str | None) -> str:
    """A reason as stored: single-spaced, required, at most MAX_REASON characters."""
    reason = " ".join((text or "").split())
    if not reason:
        raise ServiceError("Give a reason: it is kept with the entry and shown on the statement.", field="reason")
    if len(reason) > MAX_REASON:
        raise ServiceError(f"The reason is too long: at most {MAX_REASON} characters.", field="reason")
    return reason


def _staff(actor: User) -> None:
    if not actor.has_role("admin", "operator"):
        raise ServiceError("Only staff may correct a customer's account.", field="amount")


def _once(account: object, key: str | None, what: str) -> None:
    """Refuse a second submit of the same form (its nonce's entry is already posted); the account is locked first."""
    ledger.lock(account)
    if key and ledger.posted(key) is not None:
        raise ServiceError(f"This {what} was already recorded.", field="amount")


def adjust(customer: Customer, amount: Decimal | str, reason: str | None, actor: User,
           nonce: str | None = None) -> LedgerEntry:
    """Post a signed adjustment with its reason; a positive one settles services like a payment.

    `nonce` (optional) is the form's one-time token: the same form posted twice posts once.
    """
    _staff(actor)
    value = ledger.parse_money(amount, allow_negative=True)
    why = reason_text(reason)
    key = billing.form_key(nonce)
    account = ledger.customer_account(customer.id)
    _once(account, key, "adjustment")
    entry = ledger.post(account, EntryKind.adjustment, value, f"Adjustment: {why}", actor, allow_overdraft=True,
                        idem_key=key)
    billing.event(customer.id, "adjustment", f"Adjustment {billing.money(value)}: {why}", actor)
    audit.record(actor, "billing.adjust", customer.account_no, f"{value:.2f}: {why}", obj=customer,
                 changes=_balance(entry, value))
    if value > 0:
        billing.settle(customer.id, actor)
    return entry


def credited(invoice_id: int) -> Decimal:
    """What credit notes have already given back against an invoice."""
    total = db.session.scalar(select(func.coalesce(func.sum(Invoice.amount), 0)).where(
        Invoice.corrects_id == invoice_id, Invoice.kind == InvoiceKind.credit_note))
    return Decimal(total or 0).quantize(periods.CENT)


def credit_note(invoice: Invoice, amount: Decimal | str | None, reason: str | None, actor: User,
                at: datetime | None = None) -> Invoice:
    """Issue a credit note against `invoice` (the whole remainder when amount is blank) and credit the customer."""
    _staff(actor)
    if invoice.kind != InvoiceKind.invoice:
        raise ServiceError("A credit note corrects an invoice, not another credit note.", field="amount")
    why = reason_text(reason)
    account = ledger.customer_account(invoice.customer_id)
    ledger.lock(account)  # serialises two credit notes on one invoice: the remainder below is then exact
    left = invoice.amount - credited(invoice.id)
    value = left if amount in (None, "") else ledger.parse_money(amount)
    if left <= 0:
        raise ServiceError(f"Invoice {invoice.number} is already fully credited.", field="amount")
    if value > left:
        raise ServiceError(f"At most {billing.money(left)} of invoice {invoice.number} is left to credit.", field="amount")
    now = periods.second(at)
    try:
        with db.session.begin_nested():
            note = billing.issue(invoice.customer_id, invoice.subscription, InvoiceKind.credit_note, now,
                                 max(now, invoice.period_end), value, f"Credit for {invoice.number}: {why}", actor,
                                 corrects_id=invoice.id)
    except IntegrityError:
        raise ServiceError("A credit note for this service was issued this very second; reload to see it.",
                           field="amount") from None
    ledger.post(account, EntryKind.credit, value, f"Credit note {note.number} for {invoice.number}: {why}", actor,
                invoice_id=note.id, idem_key=f"credit-note:{note.id}")
    billing.event(invoice.customer_id, "credit", f"Credit note {note.number}: {billing.money(value)} against "
                  f"{invoice.number} ({why})", actor, invoice.subscription_id)
    audit.record(actor, "billing.credit_note", note.number, f"{value:.2f} against {invoice.number}: {why}", obj=note,
                 changes=audit.diff({}, audit.state(note)))
    billing.settle(invoice.customer_id, actor, now)
    return note


def refund(customer: Customer, amount: Decimal | str, method: PaymentMethod | str, reason: str | None,
           actor: User, nonce: str | None = None) -> LedgerEntry:
    """Pay credit back out to the customer: a negative `refund`, at most the credit they hold.

    `nonce` (optional) is the form's one-time token: the same form posted twice pays out once.
    """
    _staff(actor)
    value = ledger.parse_money(amount)
    how = PaymentMethod(method)
    why = reason_text(reason)
    key = billing.form_key(nonce)
    account = ledger.customer_account(customer.id)
    _once(account, key, "refund")
    held = billing.balance_of(customer.id)
    if value > held:
        raise ServiceError(f"The customer holds {billing.money(max(held, Decimal('0.00')))} in credit; "
                           "a refund cannot be more than that.", field="amount")
    entry = ledger.post(account, EntryKind.refund, -value, f"Refund by {how.label.lower()}: {why}", actor, idem_key=key)
    billing.event(customer.id, "refund", f"Refund {billing.money(value)} by {how.label.lower()}: {why}", actor)
    audit.record(actor, "billing.refund", customer.account_no, f"{value:.2f} by {how.value}: {why}", obj=customer,
                 changes=_balance(entry, -value))
    return entry


def _balance(entry: LedgerEntry, amount: Decimal) -> dict[str, list[object]]:
    """The account balance before and after a posted entry, as an audit diff."""
    return {"balance": [str(entry.balance_after - amount), str(entry.balance_after)]}
