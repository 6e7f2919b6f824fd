"""Printable invoices, credit notes and receipts: standalone pages on A4 or a 58/80 mm thermal roll (every role, scoped)."""
from __future__ import annotations

from flask import Response, abort, current_app, request
from flask_login import current_user
from sqlalchemy import select

from isp.extensions import db
from isp.models import EntryKind, LedgerEntry, Subscription
from isp.services import adjustments, billing, branding
from isp.web.billing import bp
from isp.web.billing.views import customer_url
from isp.web.errors import error_response
from isp.web.render import render
from isp.web.security import ALL_ROLES, expensive, is_htmx, role_required

FORMATS = {"a4": "A4", "80": "80 mm roll", "58": "58 mm roll"}


def _print(template: str, **ctx: object) -> Response:
    """A standalone print page in the requested paper format; an unknown format answers 400."""
    if is_htmx() and request.headers.get("HX-Boosted") == "true":
        # A boosted link would swap this page into the app shell without its print styles: load it for real.
        response = current_app.response_class(status=204)
        response.headers["HX-Redirect"] = request.full_path.rstrip("?")
        return response
    paper = request.args.get("format", "a4")
    if paper not in FORMATS:
        return error_response(400, "Choose a paper format: a4, 80 or 58.")
    settings = branding.get()
    response = render(template, paper=paper, formats=FORMATS, branding=settings,
                      logo_version=branding.logo_version(settings) if settings.logo else None, **ctx)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/invoices/<int:invoice_id>")
@role_required(*ALL_ROLES)
@expensive("print")
def invoice(invoice_id: int):
    """One invoice or credit note, printable; invoices are never edited (a correction is a credit note)."""
    doc = billing.invoice_for(current_user, invoice_id) or abort(404)
    corrects = db.session.get(type(doc), doc.corrects_id) if doc.corrects_id else None
    left = doc.amount - adjustments.credited(doc.id) if doc.kind.value == "invoice" else None
    return _print("billing/invoice.html", doc=doc, corrects=corrects, left=left, back=customer_url(doc.customer_id),
                  balance=billing.balance_of(doc.customer_id))


@bp.route("/payments/<int:payment_id>/receipt")
@role_required(*ALL_ROLES)
@expensive("print")
def receipt(payment_id: int):
    """The receipt of one payment, printable."""
    payment = billing.payment_for(current_user, payment_id) or abort(404)
    after = db.session.scalar(select(LedgerEntry.balance_after).where(LedgerEntry.payment_id == payment.id,
                                                                      LedgerEntry.kind == EntryKind.payment))
    services = list(db.session.scalars(select(Subscription).where(Subscription.customer_id == payment.customer_id)
                                       .order_by(Subscription.id)).unique())
    return _print("billing/receipt.html", payment=payment, balance_after=after, services=services,
                  back=customer_url(payment.customer_id))
