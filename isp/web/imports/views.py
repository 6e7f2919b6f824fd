"""CSV import (dry run, then real) and export of customers and services: views."""
from __future__ import annotations

import posixpath
from collections.abc import Iterable

from flask import Response, abort, flash, redirect, request, stream_with_context, url_for
from flask_login import current_user

from isp.services import csvout, customer_export, import_checks, import_format, importer, routers
from isp.services.errors import ServiceError
from isp.transaction import atomic
from isp.web.imports import bp
from isp.web.imports.forms import ConfirmForm, PasswordExportForm, UploadForm
from isp.web.render import render
from isp.web.security import ALL_ROLES, STAFF, expensive, role_required


def _upload_form() -> UploadForm:
    form = UploadForm()
    form.router.choices = [("", "— every line names its router —")] + [(r.name, r.name) for r in routers.by_name()]
    return form


def _page(form: UploadForm, status: int = 200) -> Response:
    return render("imports/index.html", form=form, columns=import_format.COLUMN_DOCS, password_form=PasswordExportForm(),
                  status=status)


def _dry_run(form: UploadForm) -> tuple[importer.Report, bytes, import_checks.Options] | None:
    """Check the uploaded file; a refusal goes on its form field and None comes back."""
    upload = form.file.data
    try:
        options = import_checks.Options(form.router.data or "",
                                        import_checks.parse_mapping(form.plan_map.data, "plan_map"),
                                        import_checks.parse_mapping(form.router_map.data, "router_map"))
        data = import_format.read_upload(upload.stream)
        name = posixpath.basename((upload.filename or "").replace("\\", "/"))
        return importer.check(data, options, name), data, options
    except ServiceError as err:
        form[err.field if err.field in form else "file"].errors.append(err.message)
        return None


@bp.route("/", methods=["GET", "POST"])
@role_required(*STAFF)
def index():
    """Upload a CSV for a dry run (nothing is written); the format, and the exports."""
    form = _upload_form()
    checked = _dry_run(form) if form.validate_on_submit() else None
    if checked is None:
        return _page(form, status=422 if form.errors else 200)
    report, data, options = checked
    token = importer.stash(data, report.filename, options, current_user.id) if report.ok else ""
    return render("imports/result.html", report=report, confirm_form=ConfirmForm(token=token),
                  status=200 if report.ok else 422)


@bp.route("/confirm", methods=["POST"])
@role_required(*STAFF)
def confirm():
    """Queue the real run of a file whose dry run was clean (once per file), then show its progress."""
    form = ConfirmForm()
    token = form.token.data if form.validate_on_submit() else None
    stashed = importer.unstash(token, current_user.id)
    try:
        started = stashed is not None and importer.start(stashed, current_user.id)
    except ServiceError as err:
        flash(err.message, "error")
        return redirect(url_for("imports.index"))
    if started:
        return redirect(url_for("imports.run", token=token))
    if importer.status(token, current_user.id) is not None:
        flash("This import was already started: each checked file is imported once.", "info")
        return redirect(url_for("imports.run", token=token))
    flash("This import has expired, already ran or is running: upload the file again.", "error")
    return redirect(url_for("imports.index"))


@bp.route("/run")
@role_required(*STAFF)
def run():
    """A queued import: waiting, importing, then its counts or its problems (its block polls itself until the end)."""
    token = request.args.get("token", "")
    if not token:
        return redirect(url_for("imports.index"))
    state = importer.status(token, current_user.id)
    if state is None:
        abort(404)  # unknown, expired, or somebody else's
    return render("imports/run.html", block="run", run=state)


def _csv(name: str, header: Iterable[str], rows: Iterable[Iterable[object]]) -> Response:
    return Response(stream_with_context(csvout.stream(header, rows)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@bp.route("/export/customers.csv")
@role_required(*ALL_ROLES)
@expensive("export")
def export_customers():
    """Customers in the import format (a reseller gets their own), streamed."""
    scope = customer_export.export_scope(current_user)
    return _csv("customers.csv", import_format.CUSTOMER_COLUMNS, customer_export.export_customers(scope))


@bp.route("/export/services.csv")
@role_required(*ALL_ROLES)
@expensive("export")
def export_services():
    """Customers with their services in the import format, without passwords (a reseller gets their own), streamed."""
    scope = customer_export.export_scope(current_user)
    return _csv("services.csv", import_format.COLUMNS, customer_export.export_services(scope))


@bp.route("/export/services-with-passwords.csv", methods=["POST"])
@role_required("admin")
@expensive("export")
def export_passwords():
    """Services with their passwords, after an explicit confirmation; the download is audited."""
    if not PasswordExportForm().validate_on_submit():
        flash("Tick the box to confirm you want the passwords in the file.", "error")
        return redirect(url_for("imports.index"))
    atomic(lambda: importer.record_password_export(current_user))
    return _csv("services-with-passwords.csv", import_format.COLUMNS,
                customer_export.export_services(None, passwords=True))


@bp.route("/sample.csv")
@role_required(*STAFF)
def sample():
    """A small example file in the import format."""
    return _csv("import-sample.csv", import_format.COLUMNS, customer_export.sample_rows())
