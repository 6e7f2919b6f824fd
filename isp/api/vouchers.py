"""/api/v1/vouchers (in progress)."""
from __future__ import annotations

from isp.api.core import ApiBlueprint

bp = ApiBlueprint("api_vouchers", __name__, url_prefix="/api/v1/vouchers", description="Vouchers")
