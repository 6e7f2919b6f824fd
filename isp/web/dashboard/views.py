"""Dashboard views: the operator's overview, or a reseller's own figures; htmx polls the live block."""
from __future__ import annotations

from flask import current_app, request
from flask_login import current_user

from isp.models.base import utcnow
from isp.services import dashboard
from isp.web.dashboard import bp
from isp.web.render import render
from isp.web.security import ALL_ROLES, is_htmx, role_required


@bp.route("/")
@role_required(*ALL_ROLES)
def index():
    """The home page: fleet, users online, sales, billing, alerts and pipeline for staff; stock and sales for resellers."""
    now, tz = utcnow(), current_app.config["ISP_TIMEZONE"]
    if current_user.has_role("reseller"):
        return render("dashboard/reseller.html", block="live", data=dashboard.reseller(current_user, now, tz))
    polled = is_htmx() and request.headers.get("HX-Boosted") != "true"  # the live block only (as render() decides)
    activity = dashboard.recent_activity() if current_user.has_role("admin") and not polled else []
    return render("dashboard/index.html", block="live", data=dashboard.operator(now, tz), activity=activity)
