"""Figures for the dashboard."""
from __future__ import annotations

from flask_login import current_user
from sqlalchemy import func, select

from isp.extensions import db
from isp.models import AuditEntry, Role, User


def summary() -> dict:
    """Counts and recent activity visible to the current user."""
    data: dict = {"cards": [], "activity": []}
    if current_user.has_role("admin", "operator"):
        rows = db.session.execute(
            select(User.role, func.count()).where(User.active.is_(True)).group_by(User.role)
        ).all()
        counts = {role: n for role, n in rows}
        data["cards"] = [
            {"label": "Admins", "value": counts.get(Role.admin, 0)},
            {"label": "Operators", "value": counts.get(Role.operator, 0)},
            {"label": "Resellers", "value": counts.get(Role.reseller, 0)},
        ]
    stmt = select(AuditEntry.at, AuditEntry.action, AuditEntry.target, User.username).outerjoin(
        User, User.id == AuditEntry.actor_id
    )
    if not current_user.has_role("admin"):
        stmt = stmt.where(AuditEntry.actor_id == current_user.id)  # non-admins see only their own actions
    data["activity"] = db.session.execute(stmt.order_by(AuditEntry.id.desc()).limit(8)).all()
    return data
