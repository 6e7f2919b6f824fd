"""Reseller accounts, their allowed plans and their ledger."""
from flask import Blueprint

bp = Blueprint("resellers", __name__, url_prefix="/resellers")

from isp.web.resellers import views  # noqa: E402,F401
