"""/api/v1/batches: voucher batches. Generate (paid from a reseller's balance, pushed in the background: 202),
list, get with push progress; Idempotency-Key is required on generation so a retry never sells twice."""
from __future__ import annotations

import marshmallow as ma
from flask import url_for
from flask.views import MethodView
from flask_smorest import abort

from isp.api.auth import api_user, scopes
from isp.api.core import ApiBlueprint
from isp.api.idempotency import idempotent
from isp.api.pagination import PageArgs, after_cursor, page_of, page_schema
from isp.extensions import db
from isp.models import VoucherBatch, VoucherMode
from isp.services import codes, vouchers

bp = ApiBlueprint("api_batches", __name__, url_prefix="/api/v1/batches",
                  description="Voucher batches: generation, progress of the push, print links.")


class BatchSchema(ma.Schema):
    """A batch: the terms as sold, who bought it, and voucher counts by state."""

    id = ma.fields.Integer(required=True)
    plan_id = ma.fields.Integer(required=True)
    plan_name = ma.fields.Function(lambda b: b.plan.name, required=True, metadata={"type": "string"})
    router_id = ma.fields.Integer(required=True)
    router_name = ma.fields.Function(lambda b: b.router.name, required=True, metadata={"type": "string"})
    reseller_id = ma.fields.Integer(allow_none=True, required=True)
    created_by_id = ma.fields.Integer(allow_none=True, required=True)
    note = ma.fields.String(required=True)
    mode = ma.fields.Enum(VoucherMode, by_value=True, required=True)
    prefix = ma.fields.String(required=True)
    code_length = ma.fields.Integer(required=True)
    count = ma.fields.Integer(required=True)
    price = ma.fields.Decimal(as_string=True, required=True, metadata={"description": "Face price per voucher"})
    unit_cost = ma.fields.Decimal(as_string=True, required=True, metadata={"description": "What the owner paid per voucher"})
    validity_seconds = ma.fields.Integer(required=True)
    time_quota_seconds = ma.fields.Integer(allow_none=True, required=True)
    data_quota_bytes = ma.fields.Integer(allow_none=True, required=True)
    created_at = ma.fields.AwareDateTime(required=True)
    counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True,
                            metadata={"description": "Vouchers by state"})
    print_url = ma.fields.Function(lambda b: url_for("vouchers.print_batch", batch_id=b.id, _external=True),
                                   required=True, metadata={"type": "string", "description": "The web print page"})
    vouchers_url = ma.fields.Function(lambda b: url_for("api_vouchers.Vouchers", batch_id=b.id, _external=True),
                                      required=True, metadata={"type": "string"})


class ProgressSchema(ma.Schema):
    """The push of the batch to its router (a radius-mode router: what FreeRADIUS holds)."""

    total = ma.fields.Integer(required=True)
    pushed = ma.fields.Integer(required=True)
    failed = ma.fields.Integer(required=True)
    pending = ma.fields.Integer(required=True)
    retrying = ma.fields.Integer(required=True)
    percent = ma.fields.Integer(required=True)
    finished = ma.fields.Boolean(required=True)


class BatchDetailSchema(BatchSchema):
    """A batch with the progress of its push."""

    progress = ma.fields.Nested(ProgressSchema, required=True)


class BatchQuery(PageArgs):
    """Filters of the batch list."""

    plan_id = ma.fields.Integer(validate=ma.validate.Range(1, 2**31 - 1))
    router_id = ma.fields.Integer(validate=ma.validate.Range(1, 2**31 - 1))
    reseller_id = ma.fields.Integer(validate=ma.validate.Range(1, 2**31 - 1), metadata={"description": "Staff only"})


class BatchCreate(ma.Schema):
    """A generation request; the service checks plan rights, the router and (for a reseller) the balance."""

    class Meta:
        unknown = ma.RAISE

    # strict: a JSON 1.5 is refused, not truncated to a batch of 1.
    plan_id = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(1, 2**31 - 1))
    count = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(1, vouchers.MAX_BATCH))
    router_id = ma.fields.Integer(load_default=None, allow_none=True, strict=True, validate=ma.validate.Range(1, 2**31 - 1),
                                  metadata={"description": "Needed when the plan is sold on several routers"})
    mode = ma.fields.Enum(VoucherMode, by_value=True, load_default=VoucherMode.code)
    prefix = ma.fields.String(load_default="", validate=ma.validate.Regexp(r"^[A-Za-z0-9]{0,8}$"))
    length = ma.fields.Integer(load_default=8, strict=True, validate=ma.validate.Range(codes.MIN_LENGTH, codes.MAX_LENGTH))
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))


def _with_counts(batches: list[VoucherBatch]) -> list[dict]:
    """Batches as dicts with their counts by state (one grouped query for all)."""
    counts = vouchers.batch_counts([b.id for b in batches])
    return [_Row(b, counts[b.id]) for b in batches]


class _Row:
    """A batch with its counts (and progress) attached, for the response schema."""

    def __init__(self, batch: VoucherBatch, counts: dict[str, int], progress: dict | None = None) -> None:
        self._batch, self.counts, self.progress = batch, counts, progress

    def __getattr__(self, name: str):
        return getattr(self._batch, name)


def _detail(batch: VoucherBatch) -> _Row:
    return _Row(batch, vouchers.batch_counts([batch.id])[batch.id], vouchers.batch_progress(batch))


@bp.route("")
class Batches(MethodView):
    """The batch list, and generation."""

    @bp.arguments(BatchQuery, location="query")
    @bp.response(200, page_schema(BatchSchema))
    def get(self, args: dict):
        """Batches, newest first."""
        filters = {k: args.get(k) for k in ("plan_id", "router_id", "reseller_id")}
        if api_user().has_role("reseller"):
            filters["reseller_id"] = None
        stmt = vouchers.batches_query(api_user(), filters).order_by(None)
        page = page_of(list(db.session.scalars(after_cursor(stmt, VoucherBatch.id, args)).unique()), args)
        page["items"] = _with_counts(page["items"])
        return page

    @scopes("vouchers")
    @idempotent(required=True)
    @bp.arguments(BatchCreate)
    @bp.response(202, BatchDetailSchema, description="Created; the vouchers are being pushed to the router")
    def post(self, data: dict):
        """Generate a batch (a reseller pays from its balance in the same transaction); the push runs in the background."""
        batch = vouchers.generate(api_user(), data["plan_id"], data["count"], data["router_id"], data["mode"].value,
                                  data["prefix"], data["length"], data["note"])
        location = url_for("api_batches.BatchDetail", batch_id=batch.id)
        return _detail(batch), 202, {"Location": location}


@bp.route("/<int:batch_id>")
class BatchDetail(MethodView):
    """One batch."""

    @bp.response(200, BatchDetailSchema)
    def get(self, batch_id: int):
        """A batch with its counts and push progress (another reseller's batch: 404)."""
        batch = vouchers.get_batch(api_user(), batch_id) or abort(404)
        return _detail(batch)
