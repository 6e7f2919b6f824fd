"""/api/v1/customers: list (search and the web's filters), get, sign up, update; a reseller's token sees only theirs."""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import abort
from sqlalchemy import select

from isp.api.auth import api_user, scopes
from isp.api.core import ApiBlueprint
from isp.api.errors import ProblemSchema
from isp.api.pagination import PageArgs, page_of, page_schema
from isp.extensions import db
from isp.models import Customer, CustomerStatus
from isp.services import customers, paging
from isp.web.numbers import MAX_ID

bp = ApiBlueprint("api_customers", __name__, url_prefix="/api/v1/customers",
                  description="Customers (account holders): search, sign up, edit. A reseller's token sees and "
                              "writes only the reseller's own customers; another's id answers 404.")


def id_field(**kwargs: Any) -> ma.fields.Integer:
    """An id in a query or body: 1 to the largest key a column holds."""
    return ma.fields.Integer(validate=ma.validate.Range(1, MAX_ID), **kwargs)


def decimal_string(**kwargs: Any) -> ma.fields.Decimal:
    """Money out: a string with two decimals ("-48.00"), never a float."""
    return ma.fields.Decimal(as_string=True, places=2, **kwargs)


class CustomerSchema(ma.Schema):
    """A customer as the API shows it (balance: positive is credit, negative is debt)."""

    id = ma.fields.Integer(required=True)
    account_no = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    phone = ma.fields.String(required=True)
    phone2 = ma.fields.String(required=True)
    email = ma.fields.String(required=True)
    address = ma.fields.String(required=True)
    national_id = ma.fields.String(required=True)
    location = ma.fields.String(required=True)
    tags = ma.fields.List(ma.fields.String(), required=True)
    notes = ma.fields.String(required=True)
    status = ma.fields.Enum(CustomerStatus, by_value=True, required=True)
    reseller_id = ma.fields.Integer(allow_none=True, required=True,
                                    metadata={"description": "The reseller who owns the account; null: the operator"})
    balance = decimal_string(required=True, metadata={"description": "Ledger balance: credit > 0, debt < 0"})
    created_at = ma.fields.AwareDateTime(required=True)
    updated_at = ma.fields.AwareDateTime(required=True)


class CustomerQuery(PageArgs):
    """The web list's filters."""

    q = ma.fields.String(validate=ma.validate.Length(max=100),
                         metadata={"description": "Account number, name, phone, email or a service username (prefix)"})
    status = ma.fields.Enum(CustomerStatus, by_value=True)
    plan_id = id_field(metadata={"description": "Customers with a service on this plan"})
    router_id = id_field(metadata={"description": "Customers with a service on this router (staff)"})
    reseller_id = id_field(metadata={"description": "Customers of this reseller (staff)"})
    in_debt = ma.fields.Boolean(load_default=False, metadata={"description": "Only customers whose balance is below zero"})


class CustomerWrite(ma.Schema):
    """Contact details; the service checks and normalises them (phones, email, tags) and names a bad field."""

    name = ma.fields.String(validate=ma.validate.Length(max=120))
    phone = ma.fields.String(validate=ma.validate.Length(max=32))
    phone2 = ma.fields.String(validate=ma.validate.Length(max=32))
    email = ma.fields.String(validate=ma.validate.Length(max=254))
    address = ma.fields.String(validate=ma.validate.Length(max=255))
    national_id = ma.fields.String(validate=ma.validate.Length(max=64))
    location = ma.fields.String(validate=ma.validate.Length(max=255))
    tags = ma.fields.List(ma.fields.String(validate=ma.validate.Length(max=32)), validate=ma.validate.Length(max=30))
    notes = ma.fields.String(validate=ma.validate.Length(max=4000))
    reseller_id = id_field(allow_none=True, metadata={"description": "Staff: the owning reseller (null: the operator); "
                                                                     "ignored for a reseller's token"})


class CustomerCreate(CustomerWrite):
    """A new customer."""

    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))


class CustomerUpdate(CustomerWrite):
    """Fields to change (left out: kept). `status` (staff) marks the account active, suspended or closed."""

    status = ma.fields.Enum(CustomerStatus, by_value=True)
    status_reason = ma.fields.String(validate=ma.validate.Length(max=200))


def rows(items: list[Customer]) -> list[dict[str, Any]]:
    """Customers with their balances (one query for the page)."""
    balances = customers.balances([c.id for c in items])
    return [{**{f: getattr(c, f) for f in CustomerSchema._declared_fields if f not in ("tags", "balance")},
             "tags": c.tag_list, "balance": balances[c.id]} for c in items]


def _filters(args: dict[str, Any]) -> dict[str, str]:
    """The query as the service's filter dict (a reseller's router and reseller filters are dropped, as on the web)."""
    out = {key: "" for key in customers.FILTERS}
    out["q"] = (args.get("q") or "").strip()
    out["status"] = args["status"].value if args.get("status") else ""
    for key in ("plan_id", "router_id", "reseller_id"):
        out[key] = str(args[key]) if args.get(key) else ""
    out["debt"] = "1" if args.get("in_debt") else ""
    if api_user().has_role("reseller"):
        out["router_id"] = out["reseller_id"] = ""
    return out


def customer_or_404(customer_id: int) -> Customer:
    """The customer if the token's user may see it (decided in the query); 404 otherwise."""
    customer = customers.get(api_user(), customer_id)
    if customer is None:
        abort(404, message=f"No customer {customer_id} (or this token may not see it).")
    return customer


@bp.route("")
class Customers(MethodView):
    @bp.arguments(CustomerQuery, location="query")
    @bp.response(200, page_schema(CustomerSchema))
    def get(self, args: dict[str, Any]):
        """List customers, newest first, filtered as on the web (search, status, plan, router, reseller, in debt)."""
        limit = args["limit"]
        cursor = int(args["cursor"]) if args.get("cursor") else None
        ids = customers.list_query(api_user(), _filters(args), cap=limit + 1,
                                   after=min(cursor, MAX_ID + 1) if cursor else None)
        found = list(db.session.scalars(ids.limit(limit + 1)))
        return page_of(rows(paging.load_rows(select(Customer), Customer.id, found)), args,
                       id_of=lambda row: row["id"])

    @scopes("customers")
    @bp.arguments(CustomerCreate)
    @bp.response(201, CustomerSchema)
    @bp.alt_response(403, schema=ProblemSchema, description="This account may not sign up customers")
    def post(self, data: dict[str, Any]):
        """Sign up a customer (staff, or a reseller allowed to sell services); a fresh account number is given."""
        user = api_user()
        if not customers.may_sell(user):
            abort(403, message="Your account may not sign up customers.")
        customer = customers.create(data, user)
        db.session.commit()
        return rows([customer])[0]


@bp.route("/<int:customer_id>")
class CustomerDetail(MethodView):
    @bp.response(200, CustomerSchema)
    def get(self, customer_id: int):
        """One customer."""
        return rows([customer_or_404(customer_id)])[0]

    @scopes("customers")
    @bp.arguments(CustomerUpdate)
    @bp.response(200, CustomerSchema)
    @bp.alt_response(403, schema=ProblemSchema, description="Only staff may change an account's status")
    def patch(self, data: dict[str, Any], customer_id: int):
        """Change contact details (and, staff, the owner or the account status); each change goes on the timeline."""
        user = api_user()
        customer = customer_or_404(customer_id)
        if not customers.may_sell(user):
            abort(403, message="Your account may not edit customers.")
        status, reason = data.pop("status", None), data.pop("status_reason", "")
        if status is not None and not user.has_role("admin", "operator"):
            abort(403, message="Only staff may change an account's status.")
        if data:
            customers.update(customer, data, user)
        if status is not None:
            customers.set_status(customer, status.value, user, reason)
        db.session.commit()
        return rows([customer])[0]
