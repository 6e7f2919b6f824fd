"""Invoices, credit notes and payments: immutable money documents that point at ledger entries."""
from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Enum, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from isp.extensions import db
from isp.models.base import UTCDateTime, utcnow


class InvoiceKind(enum.Enum):
    """An invoice charges; a credit note corrects (gives back)."""

    invoice = "invoice"
    credit_note = "credit_note"


class Invoice(db.Model):
    """One subscription period billed (or credited); never edited once issued."""

    __tablename__ = "invoices"
    __table_args__ = (
        # Idempotency: a billing run that runs twice, or two clocks at once, cannot bill a period twice.
        UniqueConstraint("subscription_id", "period_start", "kind", name="uq_invoices_subscription_period_kind"),
        Index("ix_invoices_customer_id_id", "customer_id", "id"),
        Index("ix_invoices_issued_at", "issued_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Sequential per year with the Settings prefix, e.g. INV-2026-000042.
    number: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[InvoiceKind] = mapped_column(Enum(InvoiceKind, native_enum=False, length=16), default=InvoiceKind.invoice)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id", ondelete="RESTRICT"))
    # The invoice a credit note corrects.
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    description: Mapped[str] = mapped_column(String(255), default="")
    # Always positive; the kind says which way the money goes.
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(8), default="")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    customer: Mapped[Customer] = relationship(lazy="joined")  # noqa: F821
    subscription: Mapped[Subscription | None] = relationship(lazy="joined")  # noqa: F821


class PaymentMethod(enum.Enum):
    """How money was received."""

    cash = "cash"
    bank = "bank"
    mobile = "mobile"
    other = "other"

    @property
    def label(self) -> str:
        """Human name."""
        return {"cash": "Cash", "bank": "Bank transfer", "mobile": "Mobile money", "other": "Other"}[self.value]


class Payment(db.Model):
    """Money received from a customer, with its receipt."""

    __tablename__ = "payments"
    __table_args__ = (
        # The same bank or mobile-money reference can never be recorded twice (NULL for cash without one).
        UniqueConstraint("method", "reference", name="uq_payments_method_reference"),
        Index("ix_payments_customer_id_id", "customer_id", "id"),
        Index("ix_payments_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The printed receipt number, e.g. RCT-2026-000017.
    number: Mapped[str] = mapped_column(String(40), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(8), default="")
    method: Mapped[PaymentMethod] = mapped_column(Enum(PaymentMethod, native_enum=False, length=16))
    reference: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(200), default="")
    taken_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    customer: Mapped[Customer] = relationship(lazy="joined")  # noqa: F821
    taken_by: Mapped[User | None] = relationship(lazy="joined")  # noqa: F821
