"""The alert centre: open, acknowledged and resolved alerts, their history and CSV, alert rules, maintenance windows."""
from flask import Blueprint
from flask_login import current_user

bp = Blueprint("alerts", __name__, url_prefix="/alerts")


@bp.before_request
def staff_only():
    """Alerts are staff business: a reseller gets a plain 403 on every page here (not a redirect that hides it)."""
    if current_user.is_authenticated and not current_user.has_role("admin", "operator"):
        from isp.web.errors import error_response

        return error_response(403)
    return None


from isp.web.alerts import maintenance, rules, views  # noqa: E402,F401
