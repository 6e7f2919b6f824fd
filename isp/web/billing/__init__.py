"""Invoices, payments, receipts, the debt list and billing settings."""
from flask import Blueprint

bp = Blueprint("billing", __name__, url_prefix="/billing")

from isp.web.billing import actions, documents, views  # noqa: E402,F401
