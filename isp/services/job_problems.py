"""Rows a periodic job had to skip: logged, kept in Redis for the Monitoring page, never fatal to the job.

A per-router job (usage poll, expiry sweep) that meets one bad row records it here and carries on with
the rest, so one voucher can never stop the work of its whole router. The same row failing again
updates its entry (count, last seen) instead of adding one.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from redis import Redis

from isp.extensions import db, redis_store
from isp.transaction import retryable

log = logging.getLogger(__name__)
KEY = "isp:job-problems"
KEEP = 200                 # entries at most; the oldest go first
MAX_AGE = 7 * 86400        # an entry not seen again for a week is dropped
T = TypeVar("T")


def record(job: str, subject: str, error: BaseException | str) -> None:
    """Log a skipped row and keep it (deduplicated by job and subject) for Monitoring."""
    message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    message = message[:300]
    log.warning("%s skipped %s: %s", job, subject, message)
    field, now = f"{job}|{subject}", time.time()
    try:
        client = redis_store.client
        old = client.hget(KEY, field)
        entry = json.loads(old) if old else {"job": job, "subject": subject, "count": 0, "first": now}
        entry.update(error=message, last=now, count=int(entry.get("count", 0)) + 1)
        client.hset(KEY, field, json.dumps(entry))
        if client.hlen(KEY) > KEEP:
            _trim(client)
    except Exception:
        log.exception("could not record the problem of %s on %s", job, subject)


def _trim(client: Redis) -> None:
    entries = sorted(((json.loads(v).get("last", 0), k) for k, v in client.hgetall(KEY).items()), reverse=True)
    stale = [k for n, (last, k) in enumerate(entries) if n >= KEEP or time.time() - last > MAX_AGE]
    if stale:
        client.hdel(KEY, *stale)


def recent(limit: int = 20) -> list[dict]:
    """The latest problems, newest first: job, subject, error, count, first and last (epoch seconds)."""
    try:
        raw = redis_store.client.hgetall(KEY)
    except Exception:
        log.exception("could not read job problems")
        return []
    now = time.time()
    entries = [json.loads(v) for v in raw.values()]
    entries = [e for e in entries if now - e.get("last", 0) <= MAX_AGE]
    return sorted(entries, key=lambda e: e.get("last", 0), reverse=True)[:limit]


def isolated(job: str, rows: Sequence[T], work: Callable[[list[T]], None], subject: Callable[[T], str]) -> list[T]:
    """Run work(rows) in a SAVEPOINT; if it fails, run it row by row and record each row that fails.

    Returns the rows whose work stands. The common case costs one savepoint; a bad row costs its
    neighbours one savepoint each, once.
    """
    if not rows:
        return []
    try:
        with db.session.begin_nested():
            work(list(rows))
        return list(rows)
    except Exception as exc:  # find the bad row below
        if retryable(exc):
            raise  # a deadlock is no bad row: the whole unit runs again

    done = []
    for row in rows:
        try:
            with db.session.begin_nested():
                work([row])
            done.append(row)
        except Exception as exc:  # one bad row is recorded and skipped, never fatal
            if retryable(exc):
                raise
            record(job, subject(row), exc)
    return done
