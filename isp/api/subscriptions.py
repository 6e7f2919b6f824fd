"""/api/v1/subscriptions: a customer's services. List, get, add, change plan (prorated), suspend and reactivate.

Router changes are queued on the outbox exactly as the web's buttons queue them: the answer never waits on a router.
"""
from __future__ import annotations

from typing import Any

import marshmallow as ma
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
from isp.models import ServiceKind, ServicePlan, Subscription, SubscriptionState
from isp.services import billing, customers
from isp.services import subscriptions as subs
from isp.web.numbers import MAX_ID

bp = ApiBlueprint("api_subscriptions", __name__, url_prefix="/api/v1/subscriptions",
                  description="Customers' services (PPPoE, hotspot, static IP). A reseller's token sees only the "
                              "services of the reseller's own customers.")


class SubscriptionSchema(ma.Schema):
    """A service (its password is never part of an answer)."""

    id = ma.fields.Integer(required=True)
    customer_id = ma.fields.Integer(required=True)
    kind = ma.fields.Enum(ServiceKind, by_value=True, required=True)
    username = ma.fields.String(required=True)
    state = ma.fields.Enum(SubscriptionState, by_value=True, required=True)
    plan_id = ma.fields.Integer(required=True)
    plan_name = ma.fields.String(required=True, attribute="plan.name")
    price = decimal_string(required=True, attribute="plan.price")
    router_id = ma.fields.Integer(required=True)
    router_name = ma.fields.String(required=True, attribute="router.name")
    static_ip = ma.fields.String(allow_none=True, required=True)
    caller_id = ma.fields.String(required=True)
    auto_renew = ma.fields.Boolean(required=True)
    grace_days = ma.fields.Integer(allow_none=True, required=True)
    started_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    period_start = ma.fields.AwareDateTime(allow_none=True, required=True)
    paid_until = ma.fields.AwareDateTime(allow_none=True, required=True)
    grace_until = ma.fields.AwareDateTime(allow_none=True, required=True)
    state_changed_at = ma.fields.AwareDateTime(required=True)
    created_at = ma.fields.AwareDateTime(required=True)


class SubscriptionQuery(PageArgs):
    """Filters as on the services page, plus the customer."""

    customer_id = id_field()
    state = ma.fields.Enum(SubscriptionState, by_value=True)
    kind = ma.fields.Enum(ServiceKind, by_value=True)
    plan_id = id_field()
    router_id = id_field(metadata={"description": "Staff only (ignored for a reseller's token, as on the web)"})
    q = ma.fields.String(validate=ma.validate.Length(max=64), metadata={"description": "Username prefix"})


class SubscriptionCreate(ma.Schema):
    """A new service: it starts pending with its first invoice, and is active once the period is paid."""

    customer_id = id_field(required=True)
    plan_id = id_field(required=True)
    router_id = id_field(metadata={"description": "One of the plan's routers (optional when it has one)"})
    username = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    password = ma.fields.String(load_only=True, validate=ma.validate.Length(max=64),
                                metadata={"description": "Left out: a strong one is generated"})
    static_ip = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=45))
    caller_id = ma.fields.String(validate=ma.validate.Length(max=64))
    grace_days = ma.fields.Integer(allow_none=True, validate=ma.validate.Range(0, 365),
                                   metadata={"description": "Staff only; null: the plan's"})
    auto_renew = ma.fields.Boolean(load_default=True)


class ChangePlan(ma.Schema):
    """The plan to move to (same kind, sold on the service's router); the change is prorated and invoiced."""

    plan_id = id_field(required=True)


class PlanQuote(ma.Schema):
    """The figures of a plan change before it is made."""

    plan_id = ma.fields.Integer(required=True)
    credit = decimal_string(required=True, metadata={"description": "Unused time of the old plan, to be credited"})
    charge = decimal_string(required=True, metadata={"description": "The rest of the period on the new plan"})
    balance_after = decimal_string(required=True)


class ChangePlanResult(ma.Schema):
    """The service on its new plan, and the figures posted."""

    subscription = ma.fields.Nested(SubscriptionSchema, required=True)
    credit = decimal_string(required=True, metadata={"description": "Unused time of the old plan, credited"})
    charge = decimal_string(required=True, metadata={"description": "The rest of the period on the new plan, charged"})
    balance_after = decimal_string(required=True)


class StateChange(ma.Schema):
    """Why (it goes on the customer's timeline and in the audit log)."""

    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))


def subscription_or_404(subscription_id: int) -> Subscription:
    """The service if the token's user may see it (decided in the query); 404 otherwise."""
    sub = subs.get(api_user(), subscription_id)
    if sub is None:
        abort(404, message=f"No subscription {subscription_id} (or this token may not see it).")
    return sub


def _staff_only(what: str) -> None:
    if not api_user().has_role("admin", "operator"):
        abort(403, message=f"Only staff may {what}.")


@bp.route("")
class Subscriptions(MethodView):
    @bp.arguments(SubscriptionQuery, location="query")
    @bp.response(200, page_schema(SubscriptionSchema))
    def get(self, args: dict[str, Any]):
        """List services, newest first, by customer, state, kind, plan, router or username prefix."""
        filters = {key: "" for key in subs.FILTERS}
        filters.update({"q": (args.get("q") or "").strip(),
                        "state": args["state"].value if args.get("state") else "",
                        "kind": args["kind"].value if args.get("kind") else "",
                        "plan_id": str(args.get("plan_id") or ""), "router_id": str(args.get("router_id") or "")})
        if api_user().has_role("reseller"):
            filters["router_id"] = ""
        stmt = subs.list_query(api_user(), filters).order_by(None)
        if args.get("customer_id"):
            stmt = stmt.where(Subscription.customer_id == args["customer_id"])
        if args.get("cursor"):
            args = {**args, "cursor": str(min(int(args["cursor"]), MAX_ID + 1))}
        return paginate(stmt, Subscription.id, args)

    @scopes("customers")
    @idempotent()
    @bp.arguments(SubscriptionCreate)
    @bp.response(201, SubscriptionSchema)
    @bp.alt_response(403, schema=ProblemSchema, description="This account may not sell services")
    def post(self, data: dict[str, Any]):
        """Add a service to a customer (first invoice issued; active once paid). An Idempotency-Key makes a retry safe."""
        user = api_user()
        customer = customer_or_404(data.pop("customer_id"))
        if not customers.may_sell(user):
            abort(403, message="Your account may not sell services.")
        return subs.create(customer, data, user)  # @idempotent commits


@bp.route("/<int:subscription_id>")
class SubscriptionDetail(MethodView):
    @bp.response(200, SubscriptionSchema)
    def get(self, subscription_id: int):
        """One service."""
        return subscription_or_404(subscription_id)


def _plan(plan_id: int) -> ServicePlan:
    plan = db.session.scalar(select(ServicePlan).where(ServicePlan.id == plan_id))
    if plan is None:
        abort(422, message=f"No plan {plan_id}.", errors={"plan_id": ["No such plan."]})
    return plan


@bp.route("/<int:subscription_id>/change-plan")
class SubscriptionChangePlan(MethodView):
    @bp.arguments(ChangePlan, location="query")
    @bp.response(200, PlanQuote)
    @bp.alt_response(403, schema=ProblemSchema, description="Only staff may change plans")
    def get(self, args: dict[str, Any], subscription_id: int):
        """What moving to `plan_id` now would credit and charge (nothing is written)."""
        sub = subscription_or_404(subscription_id)
        _staff_only("change a service's plan")
        quote = billing.change_plan_quote(sub, _plan(args["plan_id"]))
        return {"plan_id": args["plan_id"], "credit": quote.credit, "charge": quote.charge,
                "balance_after": quote.balance_after}

    @scopes("customers")
    @idempotent()
    @bp.arguments(ChangePlan)
    @bp.response(200, ChangePlanResult)
    @bp.alt_response(403, schema=ProblemSchema, description="Only staff may change plans")
    def post(self, data: dict[str, Any], subscription_id: int):
        """Move the service to another plan now: the unused time is credited, the new plan charged (staff)."""
        sub = subscription_or_404(subscription_id)
        _staff_only("change a service's plan")
        quote = billing.change_plan(sub, _plan(data["plan_id"]), api_user())  # @idempotent commits
        return {"subscription": sub, "credit": quote.credit, "charge": quote.charge,
                "balance_after": quote.balance_after}


def _change_state(action: str, data: dict[str, Any], subscription_id: int) -> Subscription:
    """Suspend or reactivate with a reason (staff), as the web's state buttons do; commits once."""
    sub = subscription_or_404(subscription_id)
    _staff_only(f"{action} services")
    subs.change_state(sub, action, api_user(), data["reason"])
    db.session.commit()
    return sub


@bp.route("/<int:subscription_id>/suspend")
class SubscriptionSuspend(MethodView):
    @scopes("customers")
    @bp.arguments(StateChange)
    @bp.response(200, SubscriptionSchema)
    @bp.alt_response(403, schema=ProblemSchema, description="Only staff may suspend services")
    def post(self, data: dict[str, Any], subscription_id: int):
        """Suspend the service now; the router change is queued (critical) and live sessions are kicked."""
        return _change_state("suspend", data, subscription_id)


@bp.route("/<int:subscription_id>/reactivate")
class SubscriptionReactivate(MethodView):
    @scopes("customers")
    @bp.arguments(StateChange)
    @bp.response(200, SubscriptionSchema)
    @bp.alt_response(403, schema=ProblemSchema, description="Only staff may reactivate services")
    def post(self, data: dict[str, Any], subscription_id: int):
        """Reactivate the service; one with no paid time left needs the balance to cover a new period (else 422)."""
        return _change_state("reactivate", data, subscription_id)
