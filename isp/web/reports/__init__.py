"""Sales reports: activations and revenue by day, plan, reseller and router."""
from flask import Blueprint

bp = Blueprint("reports", __name__, url_prefix="/reports")

from isp.web.reports import views  # noqa: E402,F401
