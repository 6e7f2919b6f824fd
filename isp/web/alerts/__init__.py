"""The alert centre: open, acknowledged and resolved alerts, their history and CSV, alert rules, maintenance windows."""
from flask import Blueprint

bp = Blueprint("alerts", __name__, url_prefix="/alerts")

from isp.web.alerts import views  # noqa: E402,F401
