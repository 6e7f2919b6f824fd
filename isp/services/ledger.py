"""The ledger: accounts whose balance is the sum of their entries, posted under a row lock."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import lazyload

from isp import units
from isp.extensions import db
from isp.models import AccountKind, EntryKind, LedgerAccount, LedgerEntry, User
from isp.services.errors import ServiceError

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("9999999999.99")


def parse_money(raw: str | Decimal | None, field: str = "amount", allow_negative: bool = False,
                allow_zero: bool = False) -> Decimal:
    """A money amount from a form, through the one strict parser (isp.units.parse_money); no float ever."""
    try:
        value = units.parse_money(raw, MAX_AMOUNT)
    except units.UnitError as err:
        raise ServiceError(str(err), field=field) from None
    if value < 0 and not allow_negative:
        raise ServiceError("The amount cannot be negative.", field=field)
    if value == 0 and not allow_zero:
        raise ServiceError("The amount must not be zero.", field=field)
    return value


def account_for(user: User) -> LedgerAccount:
    """The user's reseller account, created on first use."""
    account = db.session.scalar(select(LedgerAccount).where(LedgerAccount.user_id == user.id))
    if account is None:
        account = LedgerAccount(kind=AccountKind.reseller, user_id=user.id)
        db.session.add(account)
        db.session.flush()
    return account


def balance(account_id: int) -> Decimal:
    """Current balance: the sum of the account's entries (a plain read; use `post` to spend)."""
    total = db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(LedgerEntry.account_id == account_id))
    return Decimal(total).quantize(CENT)


def lock(account: LedgerAccount) -> None:
    """Take the account's row lock until commit (a row lock on MariaDB, the write lock on SQLite)."""
    db.session.execute(update(LedgerAccount).where(LedgerAccount.id == account.id)
                       .values(lock_version=LedgerAccount.lock_version + 1), execution_options={"synchronize_session": False})


def _locked_balance(account: LedgerAccount) -> Decimal:
    """Take the account's row lock, then read the balance as committed by everyone else.

    The UPDATE is the lock on both engines: a row lock on MariaDB, the write lock on SQLite.
    The sum is a locking read on MariaDB, so it sees entries committed after our snapshot began.
    """
    lock(account)
    total = db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0))
                              .where(LedgerEntry.account_id == account.id).with_for_update())
    return Decimal(total).quantize(CENT)


def post(account: LedgerAccount, kind: EntryKind, amount: Decimal, memo: str = "", actor: User | None = None,
         batch_id: int | None = None, allow_overdraft: bool = False, invoice_id: int | None = None,
         payment_id: int | None = None, idem_key: str | None = None) -> LedgerEntry:
    """Add one entry; a debit that would take the balance below zero is refused with the amount missing.

    `idem_key` makes the posting idempotent: the unique index refuses a second entry with the same key
    (callers check `posted(idem_key)` first, the index is the guarantee under races).
    """
    amount = Decimal(amount).quantize(CENT)
    current = _locked_balance(account)
    after = current + amount
    if after < 0 and amount < 0 and not allow_overdraft:
        raise ServiceError(f"Insufficient balance: this costs {-amount:.2f}, the balance is {current:.2f}, "
                           f"{-after:.2f} is missing.", field="count")
    entry = LedgerEntry(account_id=account.id, kind=kind, amount=amount, balance_after=after, memo=memo[:200],
                        created_by_id=actor.id if actor else None, batch_id=batch_id, invoice_id=invoice_id,
                        payment_id=payment_id, idem_key=idem_key)
    db.session.add(entry)
    # The cached balance (list filters read it) moves with the entry, under the same row lock.
    db.session.execute(update(LedgerAccount).where(LedgerAccount.id == account.id).values(balance=after),
                       execution_options={"synchronize_session": False})
    db.session.flush()
    return entry


def posted(idem_key: str) -> LedgerEntry | None:
    """The entry already posted under this idempotency key, if any."""
    # Without the joined author: joined, SQLite's planner may scan every entry instead of using the unique key.
    return db.session.scalar(select(LedgerEntry).where(LedgerEntry.idem_key == idem_key).options(lazyload("*")))


def customer_account(customer_id: int) -> LedgerAccount:
    """The customer's account, created on first use."""
    account = db.session.scalar(select(LedgerAccount).where(LedgerAccount.customer_id == customer_id))
    if account is None:
        account = LedgerAccount(kind=AccountKind.customer, customer_id=customer_id)
        db.session.add(account)
        db.session.flush()
    return account


def entries_query(account_id: int):
    """Entries of one account, newest first (paginate it)."""
    return select(LedgerEntry).where(LedgerEntry.account_id == account_id).order_by(LedgerEntry.id.desc())
