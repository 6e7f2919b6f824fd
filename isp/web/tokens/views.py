"""API token pages (built by the API tokens work)."""
from __future__ import annotations

from isp.web.render import render
from isp.web.security import ALL_ROLES, role_required
from isp.web.tokens import bp


@bp.get("/")
@role_required(*ALL_ROLES)
def index():
    """The user's API tokens."""
    return render("tokens/index.html")
