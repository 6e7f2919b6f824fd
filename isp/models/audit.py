"""The audit log: who changed what, and when."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from isp.extensions import db
from isp.models.base import UTCDateTime, utcnow


class AuditEntry(db.Model):
    """One recorded action by a user (or the system when actor is empty).

    `changes` is JSON {field: [before, after]} with secrets masked (isp.services.audit.diff); `via` says where the
    action came from (web, api, cli, job); target_type/target_id let an object's page list its own history.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_target", "target_type", "target_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(128), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    changes: Mapped[str] = mapped_column(Text, default="")
    ip: Mapped[str] = mapped_column(String(45), default="")
    via: Mapped[str] = mapped_column(String(8), default="web", index=True)
    target_type: Mapped[str] = mapped_column(String(32), default="")
    target_id: Mapped[int | None] = mapped_column()
