"""/api/v1/plans: hotspot plans. Staff read all and, with the routers scope, create and edit; a reseller reads the
plans it may sell (what its generate form offers)."""
from __future__ import annotations

import marshmallow as ma
from flask import url_for
from flask.views import MethodView
from flask_smorest import abort
from sqlalchemy import select

from isp.api.auth import api_user, roles, scopes
from isp.api.core import ApiBlueprint
from isp.api.idempotency import idempotent
from isp.api.pagination import PageArgs, page_schema, paginate
from isp.extensions import db
from isp.models import HotspotPlan
from isp.services import plans
from isp.web.security import STAFF

bp = ApiBlueprint("api_plans", __name__, url_prefix="/api/v1/plans",
                  description="Hotspot plans (what a voucher sells). Writes need the routers scope and a staff role: "
                              "saving a plan pushes its profile to the plan's routers.")

MONEY = r"^[0-9]{1,10}(\.[0-9]{1,2})?$"


class PlanSchema(ma.Schema):
    """A hotspot plan."""

    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    profile_name = ma.fields.String(required=True, metadata={"description": "The hotspot user profile on routers"})
    price = ma.fields.Decimal(as_string=True, required=True, metadata={"description": "Face price, e.g. \"10.00\""})
    reseller_price = ma.fields.Decimal(as_string=True, required=True)
    validity_seconds = ma.fields.Integer(required=True, metadata={"description": "Validity from first login"})
    time_quota_seconds = ma.fields.Integer(allow_none=True, required=True)
    data_quota_bytes = ma.fields.Integer(allow_none=True, required=True)
    rate_limit = ma.fields.String(required=True)
    shared_users = ma.fields.Integer(required=True)
    active = ma.fields.Boolean(required=True)
    router_ids = ma.fields.Method("_router_ids", required=True, metadata={"type": "array", "items": {"type": "integer"}})
    created_at = ma.fields.AwareDateTime(required=True)
    updated_at = ma.fields.AwareDateTime(required=True)
    web_url = ma.fields.Method("_web_url", required=True, metadata={"type": "string"})

    def _router_ids(self, plan: HotspotPlan) -> list[int]:
        return [r.id for r in plan.routers]

    def _web_url(self, plan: HotspotPlan) -> str:
        return url_for("plans.edit", plan_id=plan.id, _external=True)


class PlanQuery(PageArgs):
    """Filters of the plan list."""

    q = ma.fields.String(validate=ma.validate.Length(max=64), metadata={"description": "Name contains"})
    active = ma.fields.Boolean()


class PlanWrite(ma.Schema):
    """A plan as written: durations and sizes in the panel's notation (1d, 12h, 2G), money as a decimal string."""

    class Meta:
        unknown = ma.RAISE

    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 64))
    price = ma.fields.String(required=True, validate=ma.validate.Regexp(MONEY), metadata={"example": "10.00"})
    reseller_price = ma.fields.String(validate=ma.validate.Regexp(MONEY),
                                      metadata={"description": "Defaults to price", "example": "8.00"})
    validity = ma.fields.String(required=True, validate=ma.validate.Length(1, 40), metadata={"example": "1d"})
    time_quota = ma.fields.String(validate=ma.validate.Length(max=40), metadata={"example": "5h"})
    data_quota = ma.fields.String(validate=ma.validate.Length(max=40), metadata={"example": "2G"})
    rate_limit = ma.fields.String(validate=ma.validate.Length(max=120), metadata={"example": "2M/4M"})
    shared_users = ma.fields.Integer(validate=ma.validate.Range(1, 100), load_default=1)
    active = ma.fields.Boolean(load_default=True)
    router_ids = ma.fields.List(ma.fields.Integer(validate=ma.validate.Range(1, 2**31 - 1)),
                                validate=ma.validate.Length(max=1000), load_default=list)


class PlanPatch(PlanWrite):
    """Only the fields to change."""

    class Meta:
        unknown = ma.RAISE

    name = ma.fields.String(validate=ma.validate.Length(1, 64))
    price = ma.fields.String(validate=ma.validate.Regexp(MONEY))
    validity = ma.fields.String(validate=ma.validate.Length(1, 40))
    shared_users = ma.fields.Integer(validate=ma.validate.Range(1, 100))
    active = ma.fields.Boolean()
    router_ids = ma.fields.List(ma.fields.Integer(validate=ma.validate.Range(1, 2**31 - 1)),
                                validate=ma.validate.Length(max=1000))


def _service_data(data: dict) -> dict:
    """The dict plans.create_plan/update_plan take (the web form's values)."""
    out = {k: data.get(k, "") for k in ("name", "price", "reseller_price", "validity", "time_quota", "data_quota",
                                        "rate_limit")}
    out.update(shared_users=data.get("shared_users", 1), active=data.get("active", True),
               router_ids=data.get("router_ids") or [])
    return out


def _current(plan: HotspotPlan) -> dict:
    """A stored plan as PlanWrite values, exact (seconds and bytes), so a PATCH changes only what it names."""
    return {"name": plan.name, "price": f"{plan.price:.2f}", "reseller_price": f"{plan.reseller_price:.2f}",
            "validity": f"{plan.validity_seconds}s",
            "time_quota": f"{plan.time_quota_seconds}s" if plan.time_quota_seconds else "",
            "data_quota": str(plan.data_quota_bytes) if plan.data_quota_bytes else "", "rate_limit": plan.rate_limit,
            "shared_users": plan.shared_users, "active": plan.active, "router_ids": [r.id for r in plan.routers]}


def _visible():
    """The plans the token's user may see: every plan for staff, the plans it may sell for a reseller."""
    stmt = select(HotspotPlan)
    user = api_user()
    if user.has_role("reseller"):
        stmt = stmt.where(HotspotPlan.id.in_([p.id for p in plans.sellable(user)] or [0]))
    return stmt


def _plan_or_404(plan_id: int) -> HotspotPlan:
    return db.session.scalar(_visible().where(HotspotPlan.id == plan_id)) or abort(404)


@bp.route("")
class Plans(MethodView):
    """The plan list, and new plans."""

    @bp.arguments(PlanQuery, location="query")
    @bp.response(200, page_schema(PlanSchema))
    def get(self, args: dict):
        """Plans, newest first, filtered by name and active flag."""
        active = {True: "yes", False: "no"}.get(args.get("active"), "")
        stmt = plans.list_query((args.get("q") or "").strip(), active).order_by(None)
        stmt = stmt.where(HotspotPlan.id.in_(_visible().with_only_columns(HotspotPlan.id)))
        return paginate(stmt, HotspotPlan.id, args)

    @scopes("routers")
    @roles(*STAFF)
    @idempotent(required=False)
    @bp.arguments(PlanWrite)
    @bp.response(201, PlanSchema)
    def post(self, data: dict):
        """Add a plan; its profile is queued to its routers."""
        return plans.create_plan(_service_data(data), api_user())


@bp.route("/<int:plan_id>")
class PlanDetail(MethodView):
    """One plan."""

    @bp.response(200, PlanSchema)
    def get(self, plan_id: int):
        """A plan (a reseller: only one it may sell)."""
        return _plan_or_404(plan_id)

    @scopes("routers")
    @roles(*STAFF)
    @bp.arguments(PlanPatch)
    @bp.response(200, PlanSchema)
    def patch(self, data: dict, plan_id: int):
        """Change some fields of a plan; vouchers already sold keep their terms. The profile is re-pushed."""
        plan = _plan_or_404(plan_id)
        plan = plans.update_plan(plan, _service_data({**_current(plan), **data}), api_user())
        db.session.commit()
        return plan
