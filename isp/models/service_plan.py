"""Service plans: what a monthly (or every-N-days) subscription sells, and where."""
from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Column, Enum, ForeignKey, Numeric, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from isp.extensions import db
from isp.models.base import UTCDateTime, utcnow

service_plan_routers = Table(
    "service_plan_routers", db.metadata,
    Column("plan_id", ForeignKey("service_plans.id", ondelete="CASCADE"), primary_key=True),
    Column("router_id", ForeignKey("routers.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class ServiceKind(enum.Enum):
    """How a subscriber connects."""

    pppoe = "pppoe"      # /ppp/secret + /ppp/profile
    hotspot = "hotspot"  # /ip/hotspot/user + /ip/hotspot/user/profile
    static = "static"    # /queue/simple on a fixed IP + /ip/firewall/address-list

    @property
    def label(self) -> str:
        """Human name."""
        return {"pppoe": "PPPoE", "hotspot": "Hotspot", "static": "Static IP"}[self.value]


class PeriodUnit(enum.Enum):
    """A billing period is `period_count` calendar months or days."""

    month = "month"
    day = "day"


class ServicePlan(db.Model):
    """A subscription product: kind, price per period, speed (and FUP), sharing, addressing, routers."""

    __tablename__ = "service_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[ServiceKind] = mapped_column(Enum(ServiceKind, native_enum=False, length=16), index=True)
    # The router-side name (/ppp/profile, hotspot user profile, queue comment); fixed at creation.
    profile_name: Mapped[str] = mapped_column(String(64), unique=True)
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    period_unit: Mapped[PeriodUnit] = mapped_column(Enum(PeriodUnit, native_enum=False, length=8), default=PeriodUnit.month)
    period_count: Mapped[int] = mapped_column(default=1)
    # RouterOS notation: rx/tx [burst-rx/burst-tx [threshold-rx/threshold-tx [time-rx/time-tx [priority]]]].
    rate_limit: Mapped[str] = mapped_column(String(120), default="")
    # Fair use: after data_cap_bytes in a period the service drops to fup_rate_limit (None: no cap).
    data_cap_bytes: Mapped[int | None] = mapped_column(BigInteger)
    fup_rate_limit: Mapped[str] = mapped_column(String(120), default="")
    shared_users: Mapped[int] = mapped_column(default=1)
    # Router address pool for PPPoE/hotspot ("" = router default); static plans address each service.
    address_pool: Mapped[str] = mapped_column(String(64), default="")
    # Days of grace after paid_until before suspension (None: the Settings default).
    grace_days: Mapped[int | None] = mapped_column()
    active: Mapped[bool] = mapped_column(default=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    routers: Mapped[list[Router]] = relationship(secondary=service_plan_routers, lazy="selectin", order_by="Router.name")  # noqa: F821

    @property
    def fup_profile_name(self) -> str:
        """The router-side name of this plan's after-the-cap variant."""
        return f"{self.profile_name}-fup"[:64]

    def __repr__(self) -> str:
        return f"<ServicePlan {self.name}>"
