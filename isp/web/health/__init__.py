"""Liveness and readiness probes."""
from flask import Blueprint

bp = Blueprint("health", __name__, url_prefix="/health")

from isp.web.health import views  # noqa: E402,F401
