"""The router fleet: list, register, edit, delete, and test connections."""
from flask import Blueprint

bp = Blueprint("routers", __name__, url_prefix="/routers")

from isp.web.routers import monitoring, views  # noqa: E402,F401
