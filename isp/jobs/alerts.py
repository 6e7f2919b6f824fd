"""Alert evaluation, run by the clock every 10 s."""
from __future__ import annotations

from isp.extensions import db
from isp.services import alerts


def evaluate() -> int:
    """Evaluate the fleet-wide rules (offline, pipeline, business), escalations and suppressions; commit once."""
    changed = alerts.evaluate_global()
    db.session.commit()
    return changed
