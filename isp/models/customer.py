"""Customers (subscribers' account holders), their timeline, and race-free sequence counters."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Enum, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from isp.extensions import db
from isp.models.base import UTCDateTime, utcnow


class CustomerStatus(enum.Enum):
    """Where a customer account stands (a service has its own state)."""

    active = "active"
    suspended = "suspended"
    closed = "closed"


class Counter(db.Model):
    """A named sequence (customer account numbers, invoice numbers per year), taken under the row's lock.

    `UPDATE counters SET value = value + n` locks the row until commit (a row lock on MariaDB, the write lock
    on SQLite), so two sign-ups can never read the same value, and a rollback gives the numbers back: no gaps.
    """

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class Customer(db.Model):
    """A person or business that holds services and a money account."""

    __tablename__ = "customers"
    __table_args__ = (
        # Search as you type: prefix LIKE on each column reads its own index.
        Index("ix_customers_name", "name"),
        Index("ix_customers_phone", "phone"),
        Index("ix_customers_phone2", "phone2"),
        Index("ix_customers_email", "email"),
        # List filters page newest first off (filter, id).
        Index("ix_customers_status_id", "status", "id"),
        Index("ix_customers_reseller_id_id", "reseller_id", "id"),
        # SQLite's LIKE ignores case, so only a NOCASE index serves the prefix search there (migration 0007).
        *(Index(f"ix_customers_{column}_nocase", text(f"{column} COLLATE NOCASE")).ddl_if(dialect="sqlite")
          for column in ("name", "account_no", "phone", "phone2", "email")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_no: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(32), default="")
    phone2: Mapped[str] = mapped_column(String(32), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    address: Mapped[str] = mapped_column(String(255), default="")
    national_id: Mapped[str] = mapped_column(String(64), default="")
    # "lat,lon" or free text ("blue gate behind the school").
    location: Mapped[str] = mapped_column(String(255), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    # Comma-separated, lower case, e.g. "vip,fiber".
    tags: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[CustomerStatus] = mapped_column(Enum(CustomerStatus, native_enum=False, length=16),
                                                   default=CustomerStatus.active)
    # The reseller (agent) who owns this customer; None for the operator's own customers.
    reseller_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    reseller: Mapped[User | None] = relationship(foreign_keys=[reseller_id], lazy="joined")  # noqa: F821
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id], lazy="joined")  # noqa: F821

    @property
    def tag_list(self) -> list[str]:
        """Tags as a list."""
        return [t for t in (self.tags or "").split(",") if t]

    def __repr__(self) -> str:
        return f"<Customer {self.account_no}>"


class CustomerEvent(db.Model):
    """One line of a customer's timeline: who did what, when (state changes, payments, edits, notes, messages)."""

    __tablename__ = "customer_events"
    __table_args__ = (Index("ix_customer_events_customer_id_id", "customer_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id", ondelete="SET NULL"), index=True)
    # created, updated, state, payment, invoice, credit, note, notification, import, ...
    kind: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str] = mapped_column(String(16), default="")
    to_state: Mapped[str] = mapped_column(String(16), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    # None: the system (billing run, poll, import job).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[User | None] = relationship(lazy="joined")  # noqa: F821
