"""/api/v1/routers (in progress)."""
from __future__ import annotations

from isp.api.core import ApiBlueprint

bp = ApiBlueprint("api_routers", __name__, url_prefix="/api/v1/routers", description="Routers")
