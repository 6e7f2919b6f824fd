"""Personal API tokens: create (shown once), list, revoke."""
from flask import Blueprint

bp = Blueprint("tokens", __name__, url_prefix="/account/tokens")

from isp.web.tokens import views  # noqa: E402,F401
