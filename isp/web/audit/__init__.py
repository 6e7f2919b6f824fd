"""The audit trail: who changed what, when, from where, with a readable before/after."""
from flask import Blueprint

bp = Blueprint("audit", __name__, url_prefix="/audit")

from isp.web.audit import views  # noqa: E402,F401
