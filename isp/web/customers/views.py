"""Customers, their services (subscriptions) and service plans: views."""
from __future__ import annotations

from isp.web.customers import bp  # noqa: F401
