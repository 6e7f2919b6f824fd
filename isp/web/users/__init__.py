"""Admin management of staff and reseller accounts (Settings → Users)."""
from flask import Blueprint

bp = Blueprint("users", __name__, url_prefix="/settings/users")

from isp.web.users import views  # noqa: E402,F401
