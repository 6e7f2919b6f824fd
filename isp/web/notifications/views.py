"""Notification channels, templates and the delivery log: views."""
from __future__ import annotations

from isp.web.notifications import bp  # noqa: F401
