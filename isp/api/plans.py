"""/api/v1/plans (in progress)."""
from __future__ import annotations

from isp.api.core import ApiBlueprint

bp = ApiBlueprint("api_plans", __name__, url_prefix="/api/v1/plans", description="Plans")
