"""Billing lists (invoices, payments, debt with ageing) and their CSV exports; a reseller sees their own customers only."""
from __future__ import annotations

from collections.abc import Callable, Iterator

from flask import Response, abort, current_app, request, stream_with_context, url_for
from flask_login import current_user

from isp.models import Customer, PaymentMethod
from isp.services import billing, billing_lists, csvout, periods
from isp.web.billing import bp
from isp.web.render import render
from isp.web.security import ALL_ROLES, expensive, role_required


def customer_or_404(customer_id: int) -> Customer:
    """The customer if the current user may see it (a reseller: their own), else 404."""
    return billing.customer_for(current_user, customer_id) or abort(404)


def customer_url(customer_id: int) -> str:
    """Where a billing page goes back to: the customer's page."""
    return url_for("customers.detail", customer_id=customer_id)


def _where() -> tuple[dict, str]:
    return billing_lists.clean_filters(request.args), current_app.config["ISP_TIMEZONE"]


@bp.route("/")
@role_required(*ALL_ROLES)
def index():
    """Invoices, payments or the debt list (tabs), filtered and paged in SQL."""
    filters, tz = _where()
    per_page, now, ctx = current_app.config["PAGE_SIZE"], periods.second(), {}
    if filters["tab"] == "payments":
        page = billing_lists.payments_page(current_user, filters, tz, per_page)
    elif filters["tab"] == "debt":
        page = billing_lists.debt_page(current_user, filters, now, per_page)
        ctx = {"debts": billing_lists.debts([c.id for c in page.items], now),
               "totals": billing_lists.debt_totals(current_user, filters, now)}
    else:
        page = billing_lists.invoices_page(current_user, filters, tz, per_page)
        ctx = {"corrects": billing_lists.numbers([i.corrects_id for i in page.items if i.corrects_id])}
    return render("billing/index.html", block="results", page=page, filters=filters, methods=list(PaymentMethod),
                  buckets=billing_lists.BUCKETS, **ctx)


def _csv(name: str, header: tuple[str, ...], rows: Callable[[], Iterator[list]]) -> Response:
    response = Response(stream_with_context(csvout.stream(header, rows())), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/invoices.csv")
@role_required(*ALL_ROLES)
@expensive("export")
def export_invoices():
    """CSV of the invoices and credit notes matching the filters."""
    filters, tz = _where()
    return _csv("invoices.csv", billing_lists.INVOICE_COLUMNS, lambda: billing_lists.invoice_rows(current_user, filters, tz))


@bp.route("/payments.csv")
@role_required(*ALL_ROLES)
@expensive("export")
def export_payments():
    """CSV of the payments matching the filters."""
    filters, tz = _where()
    return _csv("payments.csv", billing_lists.PAYMENT_COLUMNS, lambda: billing_lists.payment_rows(current_user, filters, tz))


@bp.route("/debt.csv")
@role_required(*ALL_ROLES)
@expensive("export")
def export_debt():
    """CSV of the customers in debt, with the age of each debt and its bucket."""
    filters, _tz = _where()
    now = periods.second()
    return _csv("debt.csv", billing_lists.DEBT_COLUMNS, lambda: billing_lists.debt_rows(current_user, filters, now))
