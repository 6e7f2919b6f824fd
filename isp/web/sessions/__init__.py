"""Sessions of radius-mode routers: who is online (radacct), authentication failures, a voucher's sessions and usage."""
from flask import Blueprint

bp = Blueprint("sessions", __name__, url_prefix="/sessions")

from isp.web.sessions import views  # noqa: E402,F401
