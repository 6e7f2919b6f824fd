"""Race-free sequences: customer account numbers, invoice and receipt numbers per year.

`take(name, count)` bumps a counter row with one UPDATE, which holds the row's lock until commit (a row lock on
MariaDB, the database write lock on SQLite): two transactions can never get the same value, and a rollback
returns the numbers, so committed numbers have no gaps.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError

from isp.extensions import db
from isp.models import Branding, Counter


def _ensure(name: str) -> None:
    """Create the counter row of sequence `name` at 0 if it is missing (a concurrent creator may win the race)."""
    try:
        with db.session.begin_nested():
            db.session.add(Counter(name=name, value=0))
    except IntegrityError:
        pass


def take(name: str, count: int = 1) -> int:
    """Reserve `count` consecutive values of sequence `name`; returns the first (sequences start at 1)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    for _ in range(2):
        bumped = db.session.execute(update(Counter).where(Counter.name == name).values(value=Counter.value + count),
                                    execution_options={"synchronize_session": False})
        if bumped.rowcount:
            last = db.session.scalar(select(Counter.value).where(Counter.name == name))
            return int(last) - count + 1
        _ensure(name)  # first use of this sequence: create the row, then bump it
    raise RuntimeError(f"counter {name!r} could not be created")


def raise_floor(name: str, value: int) -> None:
    """Move sequence `name` to at least `value`, so the next `take` returns more than it (never moves it back).

    The UPDATE always matches the row, so its lock is held until commit whether or not the value moves.
    """
    if db.session.scalar(select(Counter.value).where(Counter.name == name)) is None:
        _ensure(name)
    db.session.execute(update(Counter).where(Counter.name == name)
                       .values(value=case((Counter.value < value, value), else_=Counter.value)),
                       execution_options={"synchronize_session": False})


def _settings() -> Branding:
    from isp.services import branding

    return branding.get()


def format_account(value: int, settings: Branding | None = None) -> str:
    """An account number: the Settings prefix and the value zero-padded, e.g. ISP-000123."""
    settings = settings or _settings()
    return f"{settings.account_prefix}{value:0{settings.account_digits}d}"


def account_numbers(count: int = 1) -> list[str]:
    """`count` new customer account numbers, in order."""
    settings = _settings()
    first = take("customer", count)
    return [format_account(first + i, settings) for i in range(count)]


def document_numbers(kind: str, at: datetime, count: int = 1) -> list[str]:
    """`count` new invoice (kind "invoice") or receipt ("receipt") numbers, sequential per year: INV-2026-000042."""
    settings = _settings()
    prefix = {"invoice": settings.invoice_prefix, "receipt": settings.receipt_prefix}[kind]
    first = take(f"{kind}:{at.year}", count)
    return [f"{prefix}{at.year}-{first + i:06d}" for i in range(count)]
