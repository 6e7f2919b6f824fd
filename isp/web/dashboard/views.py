"""Dashboard views."""
from __future__ import annotations

from isp.services import dashboard
from isp.web.dashboard import bp
from isp.web.render import render
from isp.web.security import ALL_ROLES, role_required


@bp.route("/")
@role_required(*ALL_ROLES)
def index():
    """The overview for the logged-in user."""
    return render("dashboard/index.html", block="content", summary=dashboard.summary())
