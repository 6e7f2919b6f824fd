"""Voucher batches and vouchers, with each voucher's state history."""
from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Enum, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from isp.extensions import db
from isp.models.base import UTCDateTime, utcnow


class VoucherState(enum.Enum):
    """Where a voucher is in its life."""

    unused = "unused"        # printed, nobody has logged in yet
    active = "active"        # first login seen; the validity clock runs
    expired = "expired"      # validity over
    exhausted = "exhausted"  # time or data quota used up
    disabled = "disabled"    # stopped by staff
    deleted = "deleted"      # removed from the router; kept for the books

    @property
    def live(self) -> bool:
        """True while the voucher may log in."""
        return self in (VoucherState.unused, VoucherState.active)


class VoucherMode(enum.Enum):
    """How the customer logs in."""

    code = "code"          # username = password = the code
    userpass = "userpass"  # a code and a separate password


class VoucherBatch(db.Model):
    """One generation run: plan terms and price frozen at sale time."""

    __tablename__ = "voucher_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("hotspot_plans.id", ondelete="RESTRICT"), index=True)
    router_id: Mapped[int] = mapped_column(ForeignKey("routers.id", ondelete="RESTRICT"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reseller_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    note: Mapped[str] = mapped_column(String(200), default="")
    mode: Mapped[VoucherMode] = mapped_column(Enum(VoucherMode, native_enum=False, length=16))
    prefix: Mapped[str] = mapped_column(String(16), default="")
    code_length: Mapped[int] = mapped_column()
    count: Mapped[int] = mapped_column()
    # Terms as sold: editing the plan later never changes what a printed voucher promised.
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))          # the face price printed on the card
    unit_cost: Mapped[Decimal] = mapped_column(Numeric(12, 2))      # what the owner paid per voucher
    validity_seconds: Mapped[int] = mapped_column()
    time_quota_seconds: Mapped[int | None] = mapped_column()
    data_quota_bytes: Mapped[int | None] = mapped_column(BigInteger)
    profile_name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    plan: Mapped[HotspotPlan] = relationship(lazy="joined")  # noqa: F821
    router: Mapped[Router] = relationship(lazy="joined")  # noqa: F821
    reseller: Mapped[User | None] = relationship(foreign_keys=[reseller_id], lazy="joined")  # noqa: F821
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id], lazy="joined")  # noqa: F821

    @property
    def group_key(self) -> str:
        """The outbox group of this batch's push."""
        return f"voucher-batch:{self.id}"


class Voucher(db.Model):
    """One hotspot login that can be sold, printed, used and expired."""

    __tablename__ = "vouchers"
    __table_args__ = (
        Index("ix_vouchers_state_expires", "state", "expires_at"),
        Index("ix_vouchers_router_state", "router_id", "state"),
        Index("ix_vouchers_batch_id_id", "batch_id", "id"),
        # A reseller's unsold stock per plan, off the index (their dashboard).
        Index("ix_vouchers_reseller_state_plan", "reseller_id", "state", "plan_id"),
        # This month's sales: the range and the sum of prices off the index (the dashboard).
        Index("ix_vouchers_first_login_price", "first_login_at", "price"),
        # The list pages filter by one column and page newest first: (filter, id) reads a page straight off the index.
        Index("ix_vouchers_state_id", "state", "id"),
        Index("ix_vouchers_plan_id_id", "plan_id", "id"),
        Index("ix_vouchers_router_id_id", "router_id", "id"),
        Index("ix_vouchers_reseller_id_id", "reseller_id", "id"),
        # Two filters at once, and the per-batch counts by state, without touching the table.
        Index("ix_vouchers_plan_state", "plan_id", "state"),
        Index("ix_vouchers_batch_state", "batch_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("voucher_batches.id", ondelete="CASCADE"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("hotspot_plans.id", ondelete="RESTRICT"))
    router_id: Mapped[int] = mapped_column(ForeignKey("routers.id", ondelete="RESTRICT"))
    reseller_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    password: Mapped[str] = mapped_column(String(32))
    state: Mapped[VoucherState] = mapped_column(Enum(VoucherState, native_enum=False, length=16), default=VoucherState.unused)
    validity_seconds: Mapped[int] = mapped_column()
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    first_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    uptime_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_in: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_out: Mapped[int] = mapped_column(BigInteger, default=0)
    state_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    batch: Mapped[VoucherBatch] = relationship(lazy="joined")
    plan: Mapped[HotspotPlan] = relationship(lazy="joined")  # noqa: F821
    router: Mapped[Router] = relationship(lazy="joined")  # noqa: F821

    @property
    def command_key(self) -> str:
        """Outbox idempotency key of this voucher's router user."""
        return f"hotspot_user:{self.code}"

    @property
    def bytes_total(self) -> int:
        """Traffic both ways."""
        return (self.bytes_in or 0) + (self.bytes_out or 0)


class VoucherEvent(db.Model):
    """A recorded state change (or other notable moment) of a voucher."""

    __tablename__ = "voucher_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    voucher_id: Mapped[int] = mapped_column(ForeignKey("vouchers.id", ondelete="CASCADE"), index=True)
    from_state: Mapped[str] = mapped_column(String(16), default="")
    to_state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
