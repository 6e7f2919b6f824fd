"""The landing page after login."""
from flask import Blueprint

bp = Blueprint("dashboard", __name__)

from isp.web.dashboard import views  # noqa: E402,F401
