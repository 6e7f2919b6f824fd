"""Audit pages (built by the audit work)."""
from __future__ import annotations

from isp.web.audit import bp
from isp.web.render import render
from isp.web.security import role_required


@bp.get("/")
@role_required("admin")
def index():
    """The audit log."""
    return render("audit/index.html")
