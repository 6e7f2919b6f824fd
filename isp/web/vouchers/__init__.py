"""Vouchers: batches, lists, bulk actions, printing (staff and resellers, scoped in services)."""
from flask import Blueprint

bp = Blueprint("vouchers", __name__, url_prefix="/vouchers")

from isp.web.vouchers import printing, views  # noqa: E402,F401
