"""Customers, their services (subscriptions) and service plans."""
from flask import Blueprint

bp = Blueprint("customers", __name__, url_prefix="/customers")

from isp.web.customers import views  # noqa: E402,F401
