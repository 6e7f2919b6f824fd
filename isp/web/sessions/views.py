"""Online now across radius-mode routers, the authentication failures with their reasons, one voucher's sessions."""
from __future__ import annotations

from flask import abort, current_app, request
from flask_login import current_user

from isp.services import radius_sessions
from isp.web.numbers import parse_id
from isp.web.render import render
from isp.web.security import ALL_ROLES, STAFF, role_required
from isp.web.sessions import bp

VOUCHER_SESSIONS = 20


def _filters() -> dict:
    """Query-string filters of the online list, checked (a bad value is ignored, never a 500)."""
    out = {key: request.args.get(key, "").strip()[:64] for key in radius_sessions.FILTERS}
    if parse_id(out["router_id"]) is None or current_user.has_role("reseller"):
        out["router_id"] = ""
    return out


@bp.route("/")
@role_required(*ALL_ROLES)
def index():
    """Who is online now on the radius-mode routers (open radacct rows); a reseller sees only their own."""
    filters = _filters()
    page = radius_sessions.online_page(current_user, filters, current_app.config["PAGE_SIZE"])
    choices = radius_sessions.filter_choices() if not current_user.has_role("reseller") else {"routers": []}
    return render("sessions/index.html", block="results", page=page, filters=filters, **choices)


@bp.route("/failures")
@role_required(*STAFF)
def failures():
    """The latest Access-Rejects from radpostauth, each with the reason our records give."""
    page = radius_sessions.failures_page(current_app.config["PAGE_SIZE"])
    return render("sessions/failures.html", block="results", page=page)


@bp.route("/vouchers/<int:voucher_id>")
@role_required(*ALL_ROLES)
def voucher(voucher_id: int):
    """One voucher's radacct sessions and its usage per day (from the rollup)."""
    found = radius_sessions.voucher_for(current_user, voucher_id)
    if found is None:
        abort(404)
    page = request.args.get("page", "1")
    number = int(page) if page.isascii() and page.isdigit() and 0 < int(page) < 10_000 else 1
    rows = radius_sessions.sessions_of(found.code, VOUCHER_SESSIONS + 1, (number - 1) * VOUCHER_SESSIONS)
    days = radius_sessions.voucher_usage_days(found.id, 30)
    return render("sessions/voucher.html", voucher=found, sessions=rows[:VOUCHER_SESSIONS], page=number,
                  has_next=len(rows) > VOUCHER_SESSIONS, days=days, total=sum(d[1] + d[2] for d in days))
