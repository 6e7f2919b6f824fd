"""Operator settings: business name, logo, currency, expiry policy, hotspot DNS names (admin)."""
from flask import Blueprint

bp = Blueprint("settings", __name__, url_prefix="/settings")

from isp.web.settings import views  # noqa: E402,F401
