"""Subscriptions (a customer's services), their sessions and daily usage."""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Enum, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from isp.extensions import db
from isp.models.base import UTCDateTime, utcnow
from isp.models.service_plan import ServiceKind


class SubscriptionState(enum.Enum):
    """pending → active → grace → suspended → terminated (suspended → active on payment)."""

    pending = "pending"        # signed up, not yet paid or started
    active = "active"          # paid_until in the future
    grace = "grace"            # past paid_until, still served until grace_until
    suspended = "suspended"    # cut off; a payment that covers the period brings it back
    terminated = "terminated"  # ended for good; removed from the router

    @property
    def served(self) -> bool:
        """True while the subscriber may connect at full service."""
        return self in (SubscriptionState.active, SubscriptionState.grace)


class Subscription(db.Model):
    """One service of a customer on one router."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        # One namespace for every kind (FreeRADIUS has no kind: two services named alike would share radcheck rows).
        UniqueConstraint("username", name="uq_subscriptions_username"),
        # NULLs never collide, so only set static IPs are unique per router.
        UniqueConstraint("router_id", "static_ip", name="uq_subscriptions_router_static_ip"),
        # The billing run's two scans: renewals due, and grace that ran out.
        Index("ix_subscriptions_state_paid_until", "state", "paid_until"),
        Index("ix_subscriptions_state_grace_until", "state", "grace_until"),
        # The dashboard's "suspended today".
        Index("ix_subscriptions_state_changed", "state", "state_changed_at"),
        Index("ix_subscriptions_state_id", "state", "id"),
        Index("ix_subscriptions_plan_id_id", "plan_id", "id"),
        Index("ix_subscriptions_router_id_id", "router_id", "id"),
        Index("ix_subscriptions_customer_id", "customer_id"),
        # The customer list's plan and router filters are semi-joins that read (filter, customer) off the index.
        Index("ix_subscriptions_plan_customer", "plan_id", "customer_id"),
        Index("ix_subscriptions_router_customer", "router_id", "customer_id"),
        # SQLite's LIKE ignores case, so only a NOCASE index serves the username search there (migrations 0007, 0015).
        # The username search reads (username, customer_id) off one index (migration 0015): case-blind on SQLite.
        Index("ix_subscriptions_username_nocase", text("username COLLATE NOCASE"), "customer_id").ddl_if(dialect="sqlite"),
        Index("ix_subscriptions_username_customer", "username", "customer_id").ddl_if(dialect="mysql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    kind: Mapped[ServiceKind] = mapped_column(Enum(ServiceKind, native_enum=False, length=16))
    username: Mapped[str] = mapped_column(String(64))
    # Fernet (isp.crypto); shown to staff on demand, never logged.
    password_encrypted: Mapped[str] = mapped_column(Text, default="")
    plan_id: Mapped[int] = mapped_column(ForeignKey("service_plans.id", ondelete="RESTRICT"))
    router_id: Mapped[int] = mapped_column(ForeignKey("routers.id", ondelete="RESTRICT"))
    static_ip: Mapped[str | None] = mapped_column(String(45))
    # MAC (hotspot, static) or PPPoE caller-id lock; "" = none.
    caller_id: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[SubscriptionState] = mapped_column(Enum(SubscriptionState, native_enum=False, length=16),
                                                     default=SubscriptionState.pending)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The current period: [period_start, paid_until). Renewal moves both forward.
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Per-service override of the plan's (or Settings') grace days.
    grace_days: Mapped[int | None] = mapped_column()
    # Set when the service enters grace: the moment it is suspended unless paid.
    grace_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    auto_renew: Mapped[bool] = mapped_column(default=True)
    # Bytes used in the current period (the FUP compares it with the plan's cap) and whether FUP applies now.
    period_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    fup_active: Mapped[bool] = mapped_column(default=False)
    state_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    customer: Mapped[Customer] = relationship(lazy="joined")  # noqa: F821
    plan: Mapped[ServicePlan] = relationship(lazy="joined")  # noqa: F821
    router: Mapped[Router] = relationship(lazy="joined")  # noqa: F821

    def __repr__(self) -> str:
        return f"<Subscription {self.kind.value}:{self.username} {self.state.value}>"


class ServiceSession(db.Model):
    """One connection of a subscription as the router reported it (open while ended_at is NULL)."""

    __tablename__ = "service_sessions"
    __table_args__ = (
        Index("ix_service_sessions_subscription_started", "subscription_id", "started_at"),
        Index("ix_service_sessions_router_open", "router_id", "ended_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    router_id: Mapped[int] = mapped_column(ForeignKey("routers.id", ondelete="CASCADE"))
    # The router's own id of the session (PPP session-id, hotspot .id) so a poll finds it again.
    session_key: Mapped[str] = mapped_column(String(64), default="")
    address: Mapped[str] = mapped_column(String(45), default="")
    caller_id: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str] = mapped_column(String(64), default="")
    uptime_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_in: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_out: Mapped[int] = mapped_column(BigInteger, default=0)


class UsageDaily(db.Model):
    """Bytes a subscription moved on one day (the operator's day, from session counter deltas)."""

    __tablename__ = "usage_daily"

    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    bytes_in: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_out: Mapped[int] = mapped_column(BigInteger, default=0)
