"""Online now across radius-mode routers, the authentication failures with their reasons, one voucher's sessions."""
from __future__ import annotations

from datetime import datetime

from flask import abort, current_app, request, url_for
from flask_login import current_user

from isp.services import radius_sessions, sessions, subscriptions, vouchers
from isp.web.numbers import parse_id
from isp.web.render import render
from isp.web.security import ALL_ROLES, STAFF, role_required
from isp.web.sessions import bp

HISTORY_PAGE = 20


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


def _page() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) < 10_000 else 1


def _history(username: str, since: datetime, days: list[tuple], **ctx: object):
    """The sessions page of one username since its owner was made, a page of HISTORY_PAGE, and its usage per day."""
    number = _page()
    rows = radius_sessions.sessions_of(username, HISTORY_PAGE + 1, (number - 1) * HISTORY_PAGE, since=since)
    return render("sessions/history.html", username=username, sessions=rows[:HISTORY_PAGE], page=number,
                  has_next=len(rows) > HISTORY_PAGE, days=days, total=sum(d[1] + d[2] for d in days), **ctx)


@bp.route("/vouchers/<int:voucher_id>")
@role_required(*ALL_ROLES)
def voucher(voucher_id: int):
    """One voucher's radacct sessions (paged) and its usage per day (from the rollup); a reseller only their own."""
    found = vouchers.get_voucher(current_user, voucher_id)
    if found is None:
        abort(404)
    return _history(found.code, found.created_at, radius_sessions.voucher_usage_days(found.id, 30), title="Voucher",
                    show_time=True, back_url=url_for("vouchers.detail", voucher_id=found.id), back_label="Voucher")


@bp.route("/subscriptions/<int:subscription_id>")
@role_required(*ALL_ROLES)
def subscription(subscription_id: int):
    """One service's radacct sessions (paged) and its usage per day (from the rollup); a reseller only their own."""
    found = subscriptions.get(current_user, subscription_id)
    if found is None:
        abort(404)
    days = [(day, b_in, b_out, 0) for day, b_in, b_out in sessions.usage_days(found.id, 30)]
    return _history(found.username, found.created_at, days, title="Service", show_time=False,
                    back_url=url_for("customers.detail", customer_id=found.customer_id) + f"#service-{found.id}",
                    back_label="Customer")
