"""The notification outbox: messages to customers, sent by a job through pluggable channels."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from isp.extensions import db
from isp.models.base import UTCDateTime, utcnow


class NotificationState(enum.Enum):
    """Lifecycle of one message."""

    pending = "pending"  # waiting to be sent (first time or after a failure, at next_attempt_at)
    sent = "sent"
    dead = "dead"        # out of attempts
    skipped = "skipped"  # nothing to send to (no address, channel off)


class Notification(db.Model):
    """One message to one recipient on one channel."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_state_next", "state", "next_attempt_at"),
        Index("ix_notifications_customer_id_id", "customer_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id", ondelete="SET NULL"))
    # Set for a staff alert message (customer_id is then NULL): the alert's delivery log reads by it.
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="SET NULL"), index=True)
    # reminder, suspended, payment, ...
    event: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))  # email, webhook, sms
    recipient: Mapped[str] = mapped_column(String(254), default="")
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    # "reminder:<subscription>:<paid_until>:<days>:<channel>": the same reminder is queued once.
    dedupe_key: Mapped[str | None] = mapped_column(String(191), unique=True)
    state: Mapped[NotificationState] = mapped_column(Enum(NotificationState, native_enum=False, length=16),
                                                     default=NotificationState.pending)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NotificationTemplate(db.Model):
    """The editable text of one event on one channel (rendered sandboxed, autoescaped)."""

    __tablename__ = "notification_templates"
    __table_args__ = (UniqueConstraint("event", "channel", name="uq_notification_templates_event_channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class NotificationChannel(db.Model):
    """A channel's settings: non-secret config as JSON, the secret (SMTP password, HMAC key, token) encrypted."""

    __tablename__ = "notification_channels"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=False)
    config_json: Mapped[str] = mapped_column(Text, default="{}")
    secret_encrypted: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
