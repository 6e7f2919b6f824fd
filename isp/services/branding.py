"""The operator's branding and voucher policy (one settings row)."""
from __future__ import annotations

from isp.extensions import db
from isp.models import Branding

EXPIRY_ACTIONS = ("remove", "disable")


def get() -> Branding:
    """The settings row, created with defaults on first use."""
    branding = db.session.get(Branding, 1)
    if branding is None:
        branding = Branding(id=1, business_name="", currency="", expiry_action="remove", logo_mime="")
        db.session.add(branding)
        db.session.flush()
    return branding
