"""/api/v1/vouchers: list with filters, get, disable and enable, print links; scoped like the web (a reseller: own)."""
from __future__ import annotations

import marshmallow as ma
from flask import url_for
from flask.views import MethodView
from flask_smorest import abort

from isp.api.auth import api_user, scopes
from isp.api.core import ApiBlueprint
from isp.api.pagination import PageArgs, page_schema, paginate
from isp.extensions import db
from isp.models import Voucher, VoucherMode, VoucherState
from isp.services import voucher_lifecycle, vouchers

bp = ApiBlueprint("api_vouchers", __name__, url_prefix="/api/v1/vouchers",
                  description="Vouchers: what a reseller's token lists is only its own, as on the web pages.")


class VoucherSchema(ma.Schema):
    """A voucher: its login (code and password), terms as sold, state and usage."""

    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    password = ma.fields.String(required=True, metadata={"description": "Equal to code in 'code' mode batches"})
    state = ma.fields.Enum(VoucherState, by_value=True, required=True)
    batch_id = ma.fields.Integer(required=True)
    plan_id = ma.fields.Integer(required=True)
    plan_name = ma.fields.Function(lambda v: v.plan.name, required=True, metadata={"type": "string"})
    router_id = ma.fields.Integer(required=True)
    reseller_id = ma.fields.Integer(allow_none=True, required=True)
    mode = ma.fields.Function(lambda v: v.batch.mode.value, required=True,
                              metadata={"type": "string", "enum": [m.value for m in VoucherMode]})
    price = ma.fields.Decimal(as_string=True, required=True)
    validity_seconds = ma.fields.Integer(required=True)
    first_login_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    expires_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    uptime_seconds = ma.fields.Integer(required=True)
    bytes_in = ma.fields.Integer(required=True)
    bytes_out = ma.fields.Integer(required=True)
    state_changed_at = ma.fields.AwareDateTime(required=True)
    created_at = ma.fields.AwareDateTime(required=True)
    print_url = ma.fields.Function(lambda v: url_for("vouchers.print_voucher", voucher_id=v.id, _external=True),
                                   required=True, metadata={"type": "string", "description": "The web print page"})
    web_url = ma.fields.Function(lambda v: url_for("vouchers.detail", voucher_id=v.id, _external=True),
                                 required=True, metadata={"type": "string"})


class EventSchema(ma.Schema):
    """A state change or note in the voucher's history."""

    from_state = ma.fields.String(required=True)
    to_state = ma.fields.String(required=True)
    note = ma.fields.String(required=True)
    actor_id = ma.fields.Integer(allow_none=True, required=True)
    at = ma.fields.AwareDateTime(required=True)


class VoucherDetailSchema(VoucherSchema):
    """A voucher with its history, oldest first."""

    history = ma.fields.Function(lambda v: EventSchema(many=True).dump(vouchers.history(v)), required=True,
                                 metadata={"type": "array", "items": {"$ref": "#/components/schemas/Event"}})


class VoucherQuery(PageArgs):
    """Filters of the voucher list (combined with AND, all in SQL)."""

    state = ma.fields.Enum(VoucherState, by_value=True)
    plan_id = ma.fields.Integer(validate=ma.validate.Range(1, 2**31 - 1))
    batch_id = ma.fields.Integer(validate=ma.validate.Range(1, 2**31 - 1))
    router_id = ma.fields.Integer(validate=ma.validate.Range(1, 2**31 - 1))
    reseller_id = ma.fields.Integer(validate=ma.validate.Range(1, 2**31 - 1),
                                    metadata={"description": "Staff only; ignored for a reseller's token"})
    code = ma.fields.String(validate=ma.validate.Regexp(r"^[A-Za-z0-9]{1,32}$"),
                            metadata={"description": "Code starts with (case-insensitive)"})


def filters_of(args: dict) -> dict:
    """The web list's filter dict (vouchers.list_query) from the API's query arguments."""
    filters = {k: args.get(k) for k in ("plan_id", "batch_id", "router_id", "reseller_id")}
    if api_user().has_role("reseller"):
        filters["reseller_id"] = None  # as on the page: scoping already limits a reseller to its own
    filters["state"] = args["state"].value if args.get("state") else ""
    filters["q"] = args.get("code") or ""
    return filters


def voucher_or_404(voucher_id: int) -> Voucher:
    """The voucher if the token's user may see it (another reseller's id: 404)."""
    return vouchers.get_voucher(api_user(), voucher_id) or abort(404)


@bp.route("")
class Vouchers(MethodView):
    """The voucher list."""

    @bp.arguments(VoucherQuery, location="query")
    @bp.response(200, page_schema(VoucherSchema))
    def get(self, args: dict):
        """Vouchers, newest first: filter by state, plan, batch, router, reseller and code prefix."""
        return paginate(vouchers.list_query(api_user(), filters_of(args)), Voucher.id, args)


@bp.route("/<int:voucher_id>")
class VoucherDetail(MethodView):
    """One voucher."""

    @bp.response(200, VoucherDetailSchema)
    def get(self, voucher_id: int):
        """A voucher with its history."""
        return voucher_or_404(voucher_id)


def _act(voucher_id: int, action: str, refused: str) -> Voucher:
    """Run a bulk action on one voucher, as the web's action menu does; 409 when its state does not allow it."""
    voucher = voucher_or_404(voucher_id)
    state = voucher.state.value
    result = voucher_lifecycle.bulk_action(api_user(), action, [voucher])
    if not result["changed"]:
        db.session.rollback()
        abort(409, message=refused.format(state=state))
    db.session.commit()
    return voucher


@bp.route("/<int:voucher_id>/disable")
class VoucherDisable(MethodView):
    """Disable a voucher."""

    @scopes("vouchers")
    @bp.response(200, VoucherSchema)
    @bp.alt_response(409, description="The voucher is not unused or active")
    def post(self, voucher_id: int):
        """Disable an unused or active voucher (it is removed from the router); 409 in any other state."""
        return _act(voucher_id, "disable", "The voucher is {state}: only unused or active vouchers can be disabled.")


@bp.route("/<int:voucher_id>/enable")
class VoucherEnable(MethodView):
    """Enable a disabled voucher."""

    @scopes("vouchers")
    @bp.response(200, VoucherSchema)
    @bp.alt_response(409, description="The voucher is not disabled, has expired, or was disabled by staff")
    def post(self, voucher_id: int):
        """Enable a disabled voucher that has not expired (a reseller cannot undo a staff disable); 409 otherwise."""
        return _act(voucher_id, "enable", "The voucher is {state}: only a disabled, unexpired voucher can be enabled "
                                          "(and one staff disabled only by staff).")
