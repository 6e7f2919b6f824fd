"""The pool monitor: circuits, connections, rates, queues, workers and dead letters."""
from flask import Blueprint

bp = Blueprint("monitoring", __name__, url_prefix="/monitoring")

from isp.web.monitoring import views  # noqa: E402,F401
