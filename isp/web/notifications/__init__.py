"""Notification channels, templates and the delivery log."""
from flask import Blueprint

bp = Blueprint("notifications", __name__, url_prefix="/notifications")

from isp.web.notifications import views  # noqa: E402,F401
