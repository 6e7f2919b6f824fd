"""Voucher pages: lists with filters, batches with live push progress, generation, bulk actions, CSV."""
from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, request, stream_with_context, url_for
from flask_login import current_user

from isp.extensions import db
from isp.models import VoucherState
from isp.services import csvout, ledger, plans, voucher_lifecycle, vouchers
from isp.services.errors import ServiceError
from isp.units import UnitError, format_duration, parse_duration
from isp.web.auth.forms import EmptyForm
from isp.web.forms import submit
from isp.web.numbers import parse_id
from isp.web.render import render
from isp.web.security import ALL_ROLES, expensive, is_htmx, role_required, safe_next
from isp.web.vouchers import bp
from isp.web.vouchers.forms import ACTION_CHOICES, BulkForm, GenerateForm

FILTERS = ("state", "plan_id", "batch_id", "router_id", "reseller_id", "q")


def _filters() -> dict:
    """Query-string filters, with numbers checked (a bad value is ignored, never a 500)."""
    out = {}
    for key in FILTERS:
        value = request.args.get(key, "").strip()
        if key.endswith("_id") and parse_id(value) is None:
            value = ""
        if key == "state" and value not in {s.value for s in VoucherState}:
            value = ""
        if key == "reseller_id" and current_user.has_role("reseller"):
            value = ""
        out[key] = value
    return out


def _choices() -> dict:
    """Options for the filter selects (small tables)."""
    return {**vouchers.filter_choices(current_user), "states": [s.value for s in VoucherState]}


@bp.route("/")
@role_required(*ALL_ROLES)
def index():
    """Vouchers filtered and paginated in SQL; a reseller sees only their own."""
    filters = _filters()
    page = vouchers.list_page(current_user, filters, current_app.config["PAGE_SIZE"])
    return render("vouchers/index.html", block="results", page=page, filters=filters, sync=vouchers.sync_states(page.items),
                  bulk_form=_bulk_form(), **_choices())


def _bulk_form() -> BulkForm:
    form = BulkForm()
    if current_user.has_role("reseller"):
        form.action.choices = [c for c in ACTION_CHOICES if current_user.has_role(*voucher_lifecycle.ACTIONS[c[0]])]
    return form


@bp.route("/batches")
@role_required(*ALL_ROLES)
def batches():
    """Batches, newest first, with voucher counts by state."""
    filters = {k: request.args.get(k, "") for k in ("plan_id", "router_id", "reseller_id") if parse_id(request.args.get(k))}
    page = db.paginate(vouchers.batches_query(current_user, filters), per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render("vouchers/batches.html", block="results", page=page, counts=vouchers.batch_counts([b.id for b in page.items]))


def _generate_form() -> GenerateForm:
    form = GenerateForm()
    sellable = plans.sellable(current_user)
    reseller = current_user.has_role("reseller")
    form.plan_id.choices = [(p.id, f"{p.name} — {p.reseller_price if reseller else p.price}") for p in sellable]
    routers = sorted({r.id: r for p in sellable for r in p.routers}.values(), key=lambda r: r.name)
    form.router_id.choices = [(0, "The plan's router (if it has only one)")] + [(r.id, r.name) for r in routers]
    return form


@bp.route("/batches/new", methods=["GET", "POST"])
@role_required(*ALL_ROLES)
def create():
    """Generate a batch; the push runs in the background and the batch page shows its progress."""
    form = _generate_form()
    batch = submit(form, lambda: vouchers.generate(current_user, form.plan_id.data, form.count.data, form.router_id.data or None,
                                                   form.mode.data, (form.prefix.data or "").strip(), form.length.data,
                                                   form.note.data or ""), field="count")
    if batch is not None:
        flash(f"{batch.count:,} vouchers created; they are being pushed to {batch.router.name}.", "success")
        return redirect(url_for("vouchers.batch", batch_id=batch.id))
    balance = None
    if current_user.has_role("reseller"):
        balance = ledger.balance(ledger.account_for(current_user).id)
    return render("vouchers/create.html", form=form, balance=balance, status=422 if form.errors else 200)


def _batch_or_404(batch_id: int):
    batch = vouchers.get_batch(current_user, batch_id)
    if batch is None:
        abort(404)
    return batch


@bp.route("/batches/<int:batch_id>")
@role_required(*ALL_ROLES)
def batch(batch_id: int):
    """One batch: terms, live push progress, its vouchers with their sync state."""
    batch = _batch_or_404(batch_id)
    filters = {**{k: "" for k in FILTERS}, "batch_id": str(batch.id)}
    page = vouchers.list_page(current_user, filters, current_app.config["PAGE_SIZE"])
    return render("vouchers/batch.html", block="results", batch=batch, page=page, progress=vouchers.batch_progress(batch),
                  counts=vouchers.batch_counts([batch.id])[batch.id], sync=vouchers.sync_states(page.items),
                  bulk_form=_bulk_form(), retry_form=EmptyForm())


@bp.route("/batches/<int:batch_id>/progress")
@role_required(*ALL_ROLES)
def progress(batch_id: int):
    """The progress widget (polled by htmx until the push is finished)."""
    batch = _batch_or_404(batch_id)
    if request.headers.get("HX-Request") != "true" or request.headers.get("HX-Boosted") == "true":
        return redirect(url_for("vouchers.batch", batch_id=batch.id))  # only the widget polls this; a person sees the page
    state = vouchers.batch_progress(batch)
    response = render("vouchers/batch.html", block="progress", batch=batch, progress=state, retry_form=EmptyForm())
    if state["finished"]:
        response.headers["HX-Trigger"] = "batch-pushed"  # the voucher table reloads to show the sync states
    return response


@bp.route("/batches/<int:batch_id>/retry", methods=["POST"])
@role_required(*ALL_ROLES)
def retry(batch_id: int):
    """Retry the pushes of a batch that failed for good."""
    batch = _batch_or_404(batch_id)
    count = submit(EmptyForm(), lambda: vouchers.retry_failed(batch, current_user))
    if count is not None:
        flash(f"{count} failed pushes queued again." if count else "Nothing to retry.", "success")
    if is_htmx():
        return progress(batch_id)
    return redirect(url_for("vouchers.batch", batch_id=batch.id))


@bp.route("/bulk", methods=["POST"])
@role_required(*ALL_ROLES)
def bulk():
    """Disable, enable, delete or extend the selected vouchers, or every voucher of a batch."""
    form = _bulk_form()
    back = safe_next(request.form.get("back")) or url_for("vouchers.index")
    if not form.validate_on_submit():
        action = request.form.get("action", "")
        flash(f"Your role may not {action} vouchers." if action in voucher_lifecycle.ACTIONS else "Choose an action.", "error")
        return redirect(back)
    batch_id = _batch_or_404(parse_id(request.form["batch_id"])).id if parse_id(request.form.get("batch_id")) else None
    ids = [n for n in map(parse_id, request.form.getlist("ids")) if n is not None][:10_000]
    result = submit(None, lambda: voucher_lifecycle.bulk_action(
        current_user, form.action.data, vouchers.selection(current_user, batch_id, ids), _extension(form)))
    if result is not None:
        skipped = f"; {result['skipped']} skipped (not in a state that allows it)" if result["skipped"] else ""
        flash(f"{dict(ACTION_CHOICES)[form.action.data].split(' ')[0]}: {result['changed']} vouchers{skipped}.", "success")
    return redirect(back)


def _extension(form: BulkForm) -> int | None:
    """The validity an extend action adds, in seconds; a bad duration is refused like any service refusal."""
    if form.action.data != "extend":
        return None
    try:
        return parse_duration(form.extend.data)
    except UnitError as err:
        raise ServiceError(str(err), field="extend") from None


@bp.route("/<int:voucher_id>")
@role_required(*ALL_ROLES)
def detail(voucher_id: int):
    """One voucher: state history, usage, router sync."""
    voucher = vouchers.get_voucher(current_user, voucher_id)
    if voucher is None:
        abort(404)
    return render("vouchers/detail.html", voucher=voucher, events=vouchers.history(voucher),
                  sync=vouchers.sync_states([voucher])[voucher.id], bulk_form=_bulk_form())


CSV_COLUMNS = ("code", "password", "state", "plan", "router", "batch", "price", "validity", "first_login_utc",
               "expires_utc", "uptime_seconds", "bytes_in", "bytes_out")


@bp.route("/export.csv")
@role_required(*ALL_ROLES)
@expensive("export")
def export():
    """CSV of the vouchers matching the filters (e.g. one batch), streamed."""
    filters = _filters()

    def rows():
        for v in vouchers.for_export(current_user, filters):
            yield [v.code, v.password, v.state.value, v.plan.name, v.router.name, v.batch_id, f"{v.price:.2f}",
                   format_duration(v.validity_seconds), v.first_login_at.isoformat() if v.first_login_at else "",
                   v.expires_at.isoformat() if v.expires_at else "", v.uptime_seconds, v.bytes_in, v.bytes_out]

    name = f"vouchers-batch-{filters['batch_id']}.csv" if filters["batch_id"] else "vouchers.csv"
    return Response(stream_with_context(csvout.stream(CSV_COLUMNS, rows())), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
