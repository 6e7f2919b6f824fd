"""CSV import (dry run, then real) and export of customers and services."""
from flask import Blueprint

bp = Blueprint("imports", __name__, url_prefix="/imports")

from isp.web.imports import views  # noqa: E402,F401
