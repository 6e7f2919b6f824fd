"""Alert centre views (being built)."""
from __future__ import annotations

from isp.web.alerts import bp
from isp.web.render import render
from isp.web.security import STAFF, role_required


@bp.route("/")
@role_required(*STAFF)
def index():
    """Open alerts first."""
    return render("alerts/index.html", block="content")
