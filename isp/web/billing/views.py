"""Invoices, payments, receipts, the debt list and billing settings: views."""
from __future__ import annotations

from isp.web.billing import bp  # noqa: F401
