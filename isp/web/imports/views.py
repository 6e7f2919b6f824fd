"""CSV import (dry run, then real) and export of customers and services: views."""
from __future__ import annotations

from isp.web.imports import bp  # noqa: F401
