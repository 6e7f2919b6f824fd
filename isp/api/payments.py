"""/api/v1/payments: money received. List, get, and record one (Idempotency-Key required: a retry never pays twice).

Recording goes through isp.services.billing.record_payment, as the web's payment form does: the receipt, the ledger
entry, an agent's wallet, the services the money brings back (their router changes queued) and the audit row.
"""
from __future__ import annotations

from datetime import date
from typing import Any

import marshmallow as ma
from flask import current_app, url_for
from flask.views import MethodView
from flask_smorest import abort
from sqlalchemy import select

from isp.api.auth import api_user, scopes
from isp.api.core import ApiBlueprint
from isp.api.customers import customer_or_404, decimal_string, id_field
from isp.api.errors import ProblemSchema
from isp.api.idempotency import idempotent
from isp.api.pagination import PageArgs, page_schema, paginate
from isp.extensions import db
from isp.models import Payment, PaymentMethod
from isp.services import billing, billing_lists
from isp.services.errors import ServiceError
from isp.web.numbers import MAX_ID

bp = ApiBlueprint("api_payments", __name__, url_prefix="/api/v1/payments",
                  description="Payments received from customers, with their receipts. A reseller's token sees and "
                              "records only payments of the reseller's own customers.")


class PaymentSchema(ma.Schema):
    """A payment and its receipt number."""

    id = ma.fields.Integer(required=True)
    number = ma.fields.String(required=True, metadata={"description": "The receipt number, e.g. RCT-2026-000017"})
    customer_id = ma.fields.Integer(required=True)
    account_no = ma.fields.String(required=True, attribute="customer.account_no")
    amount = decimal_string(required=True)
    currency = ma.fields.String(required=True)
    method = ma.fields.Enum(PaymentMethod, by_value=True, required=True)
    reference = ma.fields.String(allow_none=True, required=True)
    note = ma.fields.String(required=True)
    taken_by = ma.fields.Function(lambda p: p.taken_by.username if p.taken_by else None, allow_none=True,
                                  required=True, metadata={"type": "string", "nullable": True})
    received_at = ma.fields.AwareDateTime(required=True)


class PaymentQuery(PageArgs):
    """Filters as on the billing page, plus the customer."""

    customer_id = id_field()
    method = ma.fields.Enum(PaymentMethod, by_value=True)
    q = ma.fields.String(validate=ma.validate.Length(max=64), metadata={"description": "Account number or name (prefix)"})
    date_from = ma.fields.Date(metadata={"description": "Received on or after this day (the operator's timezone)"})
    date_to = ma.fields.Date(metadata={"description": "Received on or before this day (the operator's timezone)"})


class PaymentCreate(ma.Schema):
    """Money received. bank and mobile need their reference (the transaction code); a reference is recorded once."""

    customer_id = id_field(required=True)
    amount = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=20),
                              metadata={"description": "A positive amount as a string, e.g. \"1000.00\""})
    method = ma.fields.Enum(PaymentMethod, by_value=True, required=True)
    reference = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=64))
    note = ma.fields.String(validate=ma.validate.Length(max=200))

    @ma.pre_load
    def _number_amount(self, data: Any, **_: Any) -> Any:
        """Accept 1000 or 12.5 too (JSON numbers), read as their decimal text."""
        if isinstance(data, dict) and isinstance(data.get("amount"), int | float) and not isinstance(data["amount"], bool):
            data = {**data, "amount": str(data["amount"])}
        return data


def _day(value: date | None) -> str:
    return value.isoformat() if value else ""


@bp.route("")
class Payments(MethodView):
    @bp.arguments(PaymentQuery, location="query")
    @bp.response(200, page_schema(PaymentSchema))
    def get(self, args: dict[str, Any]):
        """List payments, newest first, by customer, method, customer search or dates."""
        filters = billing_lists.clean_filters({"tab": "payments", "q": args.get("q") or "",
                                               "method": args["method"].value if args.get("method") else "",
                                               "date_from": _day(args.get("date_from")),
                                               "date_to": _day(args.get("date_to"))})
        stmt = billing_lists._payment_where(api_user(), filters, current_app.config["ISP_TIMEZONE"], select(Payment))
        if args.get("customer_id"):
            stmt = stmt.where(Payment.customer_id == args["customer_id"])
        if args.get("cursor"):
            args = {**args, "cursor": str(min(int(args["cursor"]), MAX_ID + 1))}
        return paginate(stmt, Payment.id, args)

    @scopes("customers")
    @idempotent(required=True)
    @bp.arguments(PaymentCreate)
    @bp.response(201, PaymentSchema)
    @bp.alt_response(409, schema=ProblemSchema, description="This reference was already recorded (another payment)")
    def post(self, data: dict[str, Any]):
        """Record a payment: receipt, ledger credit, services it brings back. Send an Idempotency-Key (e.g. a UUID)."""
        user = api_user()
        customer = customer_or_404(data["customer_id"])
        method, reference = data["method"], data.get("reference")
        try:
            payment = billing.record_payment(customer, data["amount"], method, reference, data.get("note"), user)
        except ServiceError as err:
            stored = " ".join((reference or "").split())
            if err.field == "reference" and stored and billing.payment_by_reference(method, stored) is not None:
                abort(409, message=err.message)  # the same money sent twice under another key: not paid again
            raise
        db.session.flush()  # the receipt's id, for its Location
        return payment, 201, {"Location": url_for("api_payments.PaymentDetail", payment_id=payment.id)}


@bp.route("/<int:payment_id>")
class PaymentDetail(MethodView):
    @bp.response(200, PaymentSchema)
    def get(self, payment_id: int):
        """One payment."""
        payment = billing.payment_for(api_user(), payment_id)
        if payment is None:
            abort(404, message=f"No payment {payment_id} (or this token may not see it).")
        return payment
