"""Our side of RADIUS accounting: the rollup's cursor, the last counters of each radacct session, voucher usage.

The rollup (`isp.services.radius_sessions.rollup`) reads `radacct` incrementally: rows past the cursor
(a radacctid high-water mark, re-reading a small window for rows committed out of id order) and the sessions
it still tracks as open, by primary key. An interim update carries cumulative counters, so the usage added
is the growth since the counters stored here, never the counters themselves.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from isp.extensions import db
from isp.models.base import UTCDateTime, utcnow


class RadiusRollupCursor(db.Model):
    """How far the rollup has read `radacct` (by radacctid)."""

    __tablename__ = "radius_rollup_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_radacctid: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RadiusSessionCounter(db.Model):
    """The counters of one radacct session as the rollup last counted them (open until its Stop is counted)."""

    __tablename__ = "radius_session_counters"
    __table_args__ = (
        Index("ix_radius_session_counters_open", "open", "radacctid"),
        Index("ix_radius_session_counters_subscription", "subscription_id"),
        Index("ix_radius_session_counters_voucher", "voucher_id"),
    )

    radacctid: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    voucher_id: Mapped[int | None] = mapped_column(ForeignKey("vouchers.id", ondelete="CASCADE"))
    username: Mapped[str] = mapped_column(String(64), default="")
    open: Mapped[bool] = mapped_column(default=True)
    bytes_in: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_out: Mapped[int] = mapped_column(BigInteger, default=0)
    seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VoucherUsageDaily(db.Model):
    """Bytes and seconds a voucher used on one operator day (from radacct, radius-mode routers)."""

    __tablename__ = "voucher_usage_daily"

    voucher_id: Mapped[int] = mapped_column(ForeignKey("vouchers.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    bytes_in: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_out: Mapped[int] = mapped_column(BigInteger, default=0)
    seconds: Mapped[int] = mapped_column(BigInteger, default=0)
