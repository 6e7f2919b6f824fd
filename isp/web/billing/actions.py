"""Money in and corrections: take a payment (every role, a reseller for their own customers), adjust, refund,
credit note and plan change (staff)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from isp.services import adjustments, billing, ledger, proration
from isp.services.errors import ServiceError
from isp.web.billing import bp
from isp.web.billing.forms import AdjustmentForm, ChangePlanForm, CreditNoteForm, PaymentForm, RefundForm
from isp.web.billing.views import customer_or_404, customer_url
from isp.web.forms import submit
from isp.web.numbers import parse_id
from isp.web.render import render
from isp.web.security import ALL_ROLES, STAFF, is_htmx, role_required


def _amount(raw: str | None) -> Decimal:
    """The amount typed so far, for the preview (0 when it is not an amount yet)."""
    try:
        return ledger.parse_money(raw)
    except ServiceError:
        return Decimal("0.00")


@bp.route("/customers/<int:customer_id>/payments/new", methods=["GET", "POST"])
@role_required(*ALL_ROLES)
def payment_new(customer_id: int):
    """Record a payment; the page shows the balance and which services the amount will bring back."""
    customer = customer_or_404(customer_id)
    form = PaymentForm()
    payment = submit(form, lambda: billing.record_payment(customer, form.amount.data, form.method.data, form.reference.data,
                                                          form.note.data, current_user, form.nonce.data),
                     field="amount")
    if payment is not None:
        flash(f"Payment {payment.number} recorded: {billing.money(payment.amount)}.", "success")
        return redirect(url_for("billing.receipt", payment_id=payment.id))
    preview = billing.allocation(customer.id, _amount(request.values.get("amount")))
    block = "settles" if is_htmx() and request.method == "GET" else None
    return render("billing/payment_new.html", block=block, customer=customer, form=form, preview=preview,
                  balance=billing.balance_of(customer.id), back=customer_url(customer.id),
                  status=422 if form.errors else 200)


@bp.route("/customers/<int:customer_id>/adjust", methods=["GET", "POST"])
@role_required(*STAFF)
def adjust(customer_id: int):
    """Correct a customer's balance either way, with a reason."""
    customer = customer_or_404(customer_id)
    form = AdjustmentForm()
    if submit(form, lambda: adjustments.adjust(customer, form.amount.data, form.reason.data, current_user,
                                                    form.nonce.data),
              field="amount") is not None:
        flash("Adjustment posted.", "success")
        return redirect(customer_url(customer.id))
    return render("billing/correction.html", kind="adjust", customer=customer, form=form,
                  balance=billing.balance_of(customer.id), back=customer_url(customer.id), status=422 if form.errors else 200)


@bp.route("/customers/<int:customer_id>/refund", methods=["GET", "POST"])
@role_required(*STAFF)
def refund(customer_id: int):
    """Pay a customer's credit back out, with a reason."""
    customer = customer_or_404(customer_id)
    form = RefundForm()
    if submit(form, lambda: adjustments.refund(customer, form.amount.data, form.method.data, form.reason.data,
                                                    current_user, form.nonce.data),
              field="amount") is not None:
        flash("Refund posted.", "success")
        return redirect(customer_url(customer.id))
    return render("billing/correction.html", kind="refund", customer=customer, form=form,
                  balance=billing.balance_of(customer.id), back=customer_url(customer.id), status=422 if form.errors else 200)


@bp.route("/invoices/<int:invoice_id>/credit-note", methods=["GET", "POST"])
@role_required(*STAFF)
def credit_note(invoice_id: int):
    """Issue a credit note against an invoice (the invoice itself never changes)."""
    invoice = billing.invoice_for(current_user, invoice_id) or abort(404)
    if invoice.kind.value != "invoice":
        abort(404)
    form = CreditNoteForm()
    note = submit(form, lambda: adjustments.credit_note(invoice, form.amount.data, form.reason.data, current_user),
                  field="amount")
    if note is not None:
        flash(f"Credit note {note.number} issued.", "success")
        return redirect(url_for("billing.invoice", invoice_id=note.id))
    return render("billing/correction.html", kind="credit", customer=invoice.customer, form=form, invoice=invoice,
                  left=invoice.amount - adjustments.credited(invoice.id), balance=billing.balance_of(invoice.customer_id),
                  back=url_for("billing.invoice", invoice_id=invoice.id), status=422 if form.errors else 200)


def _quoted_at(raw: str | None) -> datetime | None:
    """The moment a confirmed quote was made (the service refuses one too old or from the future)."""
    try:
        moment = datetime.fromisoformat(raw or "")
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


@bp.route("/subscriptions/<int:subscription_id>/change-plan", methods=["GET", "POST"])
@role_required(*STAFF)
def change_plan(subscription_id: int):
    """Pick a new plan, see the prorated credit and charge, then confirm."""
    sub = billing.subscription_for(current_user, subscription_id) or abort(404)
    plans = {p.id: p for p in proration.plans_for(sub)}
    form = ChangePlanForm()
    form.plan_id.choices = [(0, "Choose a plan")] + [(p.id, f"{p.name} — {billing.money(p.price)}") for p in plans.values()]
    if request.method == "POST":
        plan = plans.get(form.plan_id.data if isinstance(form.plan_id.data, int) else 0)
        if plan is None:
            form.validate_on_submit()
            form.plan_id.errors = [*form.plan_id.errors, "Choose one of the plans listed."]
        elif submit(form, lambda: billing.change_plan(sub, plan, current_user, _quoted_at(form.at.data)),
                    field="plan_id") is not None:
            flash(f"Plan changed to {plan.name}.", "success")
            return redirect(customer_url(sub.customer_id))
    chosen = plans.get(parse_id(request.values.get("plan_id")) or 0)
    quote = None
    if chosen is not None:
        try:
            quote = billing.change_plan_quote(sub, chosen)
        except ServiceError as err:
            form.plan_id.errors.append(err.message)
        form.plan_id.data, form.at.data = chosen.id, quote.at.isoformat() if quote else ""
    block = "quote" if is_htmx() and request.method == "GET" else None
    return render("billing/change_plan.html", block=block, sub=sub, form=form, quote=quote, back=customer_url(sub.customer_id),
                  status=422 if form.errors else 200)

