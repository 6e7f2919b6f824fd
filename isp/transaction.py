"""One unit of work: run it, commit once, and re-run the whole unit when the database asks us to.

MariaDB picks a deadlock victim (1213) or gives up waiting for a row lock (1205); SQLite says "database is
locked" once its busy timeout runs out. In each case the transaction is gone, so retrying one statement
would replay half a unit: the only safe retry is a rollback and a fresh run of everything from the start.
Call it where the transaction begins and ends (a view, a job, a command), with a session holding no other
pending work. Enqueues registered for after the commit are dropped by the rollback and registered again by
the re-run, so a job never runs twice for one unit.

The unit may write the radius tables too: the commit and the rollback here cover both databases in every mode
of isp/radius/binds.py (one transaction on a shared file or server; XA with our commit as the decision otherwise).
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

from isp.extensions import db

T = TypeVar("T")
log = logging.getLogger(__name__)

LOCK_ERRORS = {1213, 1205}  # MySQL/MariaDB: deadlock found; lock wait timeout exceeded
PAUSE = 0.05  # seconds before the second attempt; doubled per attempt, then jittered


def retryable(err: BaseException | None) -> bool:
    """True for a deadlock or lock timeout: the transaction was rolled back and may simply run again.

    The chain of causes counts too: a deadlock inside a SAVEPOINT takes the whole transaction with it,
    and what surfaces is the failed ROLLBACK TO SAVEPOINT (1305), raised while handling the 1213.
    """
    seen = 0
    while err is not None and seen < 10:
        if isinstance(err, DBAPIError):
            args = getattr(err.orig, "args", None) or (None,)
            if args[0] in LOCK_ERRORS or "database is locked" in str(err.orig):
                return True
        err, seen = err.__cause__ or err.__context__, seen + 1
    return False


def _pause(attempt: int) -> None:
    """Sleep a little, jittered, so two colliding units do not collide again in step."""
    time.sleep(PAUSE * 2 ** (attempt - 1) * random.uniform(0.5, 1.5))


def atomic(work: Callable[[], T], retries: int = 3) -> T:
    """Run work() and commit once; on a deadlock or lock timeout roll back and run it all again (at most `retries` runs).

    Any other exception rolls back and propagates; so does a lock error on the last run.
    """
    attempt = 1
    while True:
        try:
            result = work()
            db.session.commit()
            return result
        except Exception as err:
            db.session.rollback()
            if attempt >= retries or not retryable(err):
                raise
            log.warning("unit of work hit %s (attempt %d of %d); running it again", err.orig, attempt, retries)
        _pause(attempt)
        attempt += 1
