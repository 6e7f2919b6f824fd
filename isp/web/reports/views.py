"""The sales report and its CSV export (staff only)."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Response, current_app, request

from isp.services import reports
from isp.web.render import render
from isp.web.reports import bp
from isp.web.reports.forms import SalesForm, presets
from isp.web.security import STAFF, expensive, role_required


def _filter() -> tuple[SalesForm, ZoneInfo, bool]:
    """The filter from the query string, validated against today in the operator's timezone (read per request)."""
    tz = ZoneInfo(current_app.config["ISP_TIMEZONE"])
    form = SalesForm(request.args, today=datetime.now(tz).date())
    return form, tz, form.validate()


@bp.route("/")
@role_required(*STAFF)
def index():
    """Activations and face value by day, plan, reseller or router; htmx gets only the results."""
    form, tz, valid = _filter()
    report = reports.sales(form.start.data, form.end.data, form.group.data, tz) if valid else None
    return render("reports/index.html", block="results", form=form, report=report, groups=reports.GROUPS,
                  presets=presets(form.today), status=200 if valid else 422)


@bp.route("/sales.csv")
@role_required(*STAFF)
@expensive("export")
def export():
    """The same report as a CSV download."""
    form, tz, valid = _filter()
    if not valid:
        return Response("\n".join(form.messages()) + "\n", 400, mimetype="text/plain")
    report = reports.sales(form.start.data, form.end.data, form.group.data, tz)
    return Response(reports.sales_csv(report), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{reports.csv_filename(report)}"'})
