"""Housekeeping jobs."""
from __future__ import annotations

import time

from isp.extensions import redis_store

HEARTBEAT_KEY = "isp:clock:heartbeat"


def heartbeat() -> float:
    """Record that clock → queue → worker works end to end."""
    now = time.time()
    redis_store.client.set(HEARTBEAT_KEY, now, ex=3600)
    return now


def purge_security() -> dict[str, int]:
    """Hourly: forget long-ended login sessions, dead remembered devices and day-old API idempotency keys."""
    from isp.extensions import db
    from isp.services import user_sessions

    counts = user_sessions.purge()
    db.session.commit()
    return counts
