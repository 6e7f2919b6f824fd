"""Recording actions in the audit log."""
from __future__ import annotations

from isp.extensions import db
from isp.models import AuditEntry, User


def record(actor: User | None, action: str, target: str = "", detail: str = "") -> AuditEntry:
    """Add an audit entry (never include secrets in detail)."""
    entry = AuditEntry(actor_id=actor.id if actor else None, action=action, target=target, detail=detail)
    db.session.add(entry)
    return entry
