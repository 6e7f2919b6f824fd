"""Hotspot plans: what a voucher sells, and where it may be sold."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Column, ForeignKey, Numeric, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from isp.extensions import db
from isp.models.base import UTCDateTime, utcnow

plan_routers = Table(
    "hotspot_plan_routers", db.metadata,
    Column("plan_id", ForeignKey("hotspot_plans.id", ondelete="CASCADE"), primary_key=True),
    Column("router_id", ForeignKey("routers.id", ondelete="CASCADE"), primary_key=True, index=True),
)

reseller_plans = Table(
    "reseller_plans", db.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("plan_id", ForeignKey("hotspot_plans.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class HotspotPlan(db.Model):
    """A voucher product: price, validity from first login, quotas, speed, sharing, routers."""

    __tablename__ = "hotspot_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # The /ip/hotspot/user/profile name on routers; fixed at creation so a rename never orphans it.
    profile_name: Mapped[str] = mapped_column(String(64), unique=True)
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    reseller_price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    validity_seconds: Mapped[int] = mapped_column()
    time_quota_seconds: Mapped[int | None] = mapped_column()
    data_quota_bytes: Mapped[int | None] = mapped_column(BigInteger)
    rate_limit: Mapped[str] = mapped_column(String(120), default="")
    shared_users: Mapped[int] = mapped_column(default=1)
    active: Mapped[bool] = mapped_column(default=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    routers: Mapped[list[Router]] = relationship(secondary=plan_routers, lazy="selectin", order_by="Router.name")  # noqa: F821

    def profile_attrs(self) -> dict:
        """The /ip/hotspot/user/profile this plan needs on each router."""
        from isp.units import format_duration

        attrs = {"name": self.profile_name, "shared-users": str(self.shared_users), "rate-limit": self.rate_limit}
        # The router closes a session at the end of the validity even if our workers are down.
        attrs["session-timeout"] = format_duration(self.validity_seconds)
        return attrs

    def __repr__(self) -> str:
        return f"<HotspotPlan {self.name}>"
