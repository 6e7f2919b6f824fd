"""Hotspot plans (staff)."""
from flask import Blueprint

bp = Blueprint("plans", __name__, url_prefix="/plans")

from isp.web.plans import views  # noqa: E402,F401
