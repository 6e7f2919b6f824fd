"""Account security pages (built by the 2FA and sessions work)."""
from __future__ import annotations

from isp.web.account import bp
from isp.web.render import render
from isp.web.security import ALL_ROLES, role_required


@bp.get("/")
@role_required(*ALL_ROLES)
def index():
    """The user's security overview."""
    return render("account/index.html")
