"""A user's own security: two-factor enrolment, recovery codes, remembered devices and active sessions."""
from flask import Blueprint

bp = Blueprint("account", __name__, url_prefix="/account")

from isp.web.account import views  # noqa: E402,F401
