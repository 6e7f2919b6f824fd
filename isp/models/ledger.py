"""Money accounts (resellers and customers) whose balance is the sum of their entries."""
from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Enum, ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from isp.extensions import db
from isp.models.base import UTCDateTime, utcnow


class AccountKind(enum.Enum):
    """Who owns an account."""

    reseller = "reseller"
    customer = "customer"


class EntryKind(enum.Enum):
    """Why money moved."""

    topup = "topup"            # money received from the owner
    purchase = "purchase"      # vouchers bought (negative)
    refund = "refund"          # money given back (positive)
    adjustment = "adjustment"  # a correction by an admin (either sign)
    charge = "charge"          # a service charge, e.g. a renewal (negative)
    payment = "payment"        # a customer's payment (positive)
    credit = "credit"          # a credit note, e.g. the unused part of a plan (positive)
    commission = "commission"  # an agent's share of a payment they took (positive)


class LedgerAccount(db.Model):
    """One balance holder; the row is locked while an entry is being decided."""

    __tablename__ = "ledger_accounts"
    # The "in debt" filter reads (balance, customer) off the index alone.
    __table_args__ = (Index("ix_ledger_accounts_balance_customer", "balance", "customer_id"),
                      # The customer list's "in debt" filter walks accounts newest customer first (migration 0015).
                      Index("ix_ledger_accounts_customer_balance", "customer_id", "balance"))

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[AccountKind] = mapped_column(Enum(AccountKind, native_enum=False, length=16), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"), unique=True)
    # The sum of the entries, kept by every posting under the row lock (the "in debt" filter reads it off an index).
    balance: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0.00"))
    # Bumped by every posting: the UPDATE takes the row lock that serialises concurrent spending.
    lock_version: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User | None] = relationship(lazy="joined")  # noqa: F821


class LedgerEntry(db.Model):
    """An immutable movement of money; positive credits the account."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_account_created", "account_id", "created_at"),
                      # The debt age (billing_lists.since): an account's latest entry at zero or above, read
                      # backwards off the index, then the entries after it, without touching the table.
                      Index("ix_ledger_entries_account_id_balance", "account_id", "id", "balance_after", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id", ondelete="RESTRICT"))
    kind: Mapped[EntryKind] = mapped_column(Enum(EntryKind, native_enum=False, length=16), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    balance_after: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    memo: Mapped[str] = mapped_column(String(200), default="")
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("voucher_batches.id", ondelete="SET NULL"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"), index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id", ondelete="RESTRICT"), index=True)
    # Idempotency of money operations: "renewal:<subscription>:<period start>", "payment:<id>", ...
    idem_key: Mapped[str | None] = mapped_column(String(191), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id], lazy="joined")  # noqa: F821
