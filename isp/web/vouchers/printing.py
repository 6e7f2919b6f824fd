"""Print pages for a batch or a single voucher: standalone HTML on four paper templates (every role, scoped)."""
from __future__ import annotations

from collections.abc import Callable

from flask import Response, abort, current_app, request, url_for
from flask_login import current_user

from isp.extensions import requested_page
from isp.services import branding, printing, vouchers
from isp.services.errors import ServiceError
from isp.web.errors import error_response
from isp.web.render import render
from isp.web.security import ALL_ROLES, expensive, is_htmx, role_required
from isp.web.vouchers import bp


def _page(make_job: Callable[..., printing.PrintJob], endpoint: str, back: str, **args: object) -> Response:
    """Render the print job for the requested template; an unknown template answers 400."""
    if is_htmx() and request.headers.get("HX-Boosted") == "true":
        # A boosted link would swap this standalone page into the app shell without print.css: load it for real.
        response = current_app.response_class(status=204)
        response.headers["HX-Redirect"] = request.full_path.rstrip("?")
        return response
    settings = branding.get()
    try:
        job = make_job(printing.template(request.args.get("template")), settings.currency)
    except ServiceError as err:
        return error_response(400 if err.field == "template" else 404, err.message)
    response = render("vouchers/print.html", job=job, branding=settings, templates=printing.TEMPLATES.values(),
                      logo_version=branding.logo_version(settings) if settings.logo else None,
                      endpoint=endpoint, args=args, back=back)
    # Codes and passwords are sellable credentials: keep them out of shared and disk caches.
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/batches/<int:batch_id>/print")
@role_required(*ALL_ROLES)
@expensive("print")
def print_batch(batch_id: int):
    """Print a batch's vouchers (deleted ones left out), a whole number of sheets per page."""
    batch = vouchers.get_batch(current_user, batch_id) or abort(404)
    page = requested_page()
    return _page(lambda tpl, currency: printing.batch_job(batch, tpl, page, currency), "vouchers.print_batch",
                 url_for("vouchers.batch", batch_id=batch.id), batch_id=batch.id)


@bp.route("/<int:voucher_id>/print")
@role_required(*ALL_ROLES)
@expensive("print")
def print_voucher(voucher_id: int):
    """Reprint one voucher."""
    voucher = vouchers.get_voucher(current_user, voucher_id) or abort(404)
    return _page(lambda tpl, currency: printing.voucher_job(voucher, tpl, currency), "vouchers.print_voucher",
                 url_for("vouchers.detail", voucher_id=voucher.id), voucher_id=voucher.id)
