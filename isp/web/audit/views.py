"""The audit trail: who changed what, when, from where, with a readable before/after (admins only)."""
from __future__ import annotations

from flask import Response, current_app, request, stream_with_context

from isp.services import audit_log, csvout
from isp.web.audit import bp
from isp.web.render import render
from isp.web.security import expensive, is_htmx, role_required


def _where() -> tuple[dict, str]:
    return audit_log.clean_filters(request.args), current_app.config["ISP_TIMEZONE"]


@bp.get("/")
@role_required("admin")
def index():
    """The log, newest first, filtered and paged in SQL; htmx gets the results block."""
    filters, tz = _where()
    page = audit_log.page(filters, tz, current_app.config["PAGE_SIZE"])
    # The filter choices (distinct actions and target types) only for a whole page: htmx swaps the results alone.
    choices = {} if is_htmx() and request.headers.get("HX-Boosted") != "true" else audit_log.choices()
    return render("audit/index.html", block="results", page=page, filters=filters, tz=tz,
                  users=audit_log.usernames(page.items), choices=choices, log=audit_log)


@bp.get("/audit.csv")
@role_required("admin")
@expensive("export")
def export():
    """CSV of the entries matching the filters (spreadsheet formulas neutralised), streamed."""
    filters, tz = _where()
    response = Response(stream_with_context(csvout.stream(audit_log.CSV_COLUMNS, audit_log.rows(filters, tz))),
                        mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="audit.csv"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
