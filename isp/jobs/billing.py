"""The billing run (every minute, `normal`) and the on-time suspension tick (every 10 s, `critical`)."""
from __future__ import annotations

import logging

from isp import dispatch
from isp.models.base import utcnow
from isp.services import billing, renewal
from isp.transaction import atomic

log = logging.getLogger(__name__)
LOOKAHEAD = 11.0  # seconds: a little more than the 10-second tick, so no grace end falls between two looks


def billing_run() -> dict:
    """Renew, move to grace, suspend: set-based over every due subscription, one commit per chunk."""
    counts = billing.run(utcnow(), atomic)
    if any(counts.values()):
        log.info("billing run: %(renewed)s renewed, %(grace)s to grace, %(suspended)s suspended", counts)
    return counts


def suspend_due() -> int:
    """Suspend the services whose grace ended and queue their kicks on `critical`.

    It also books an extra run at each moment a grace period ends before the next tick, so a service is
    suspended within about a second of its grace end rather than up to a tick later.
    """
    now = utcnow()
    count = renewal.suspend(now, atomic)
    if count:
        log.info("suspended %s services whose grace ended", count)
    for moment in atomic(lambda: renewal.due_moments(now, LOOKAHEAD)):
        dispatch.Enqueue(dispatch.SUSPEND_DUE, (), f"suspend-at-{moment:%Y%m%d%H%M%S}", "critical",
                         max((moment - utcnow()).total_seconds(), 0.01)).send()
    return count
