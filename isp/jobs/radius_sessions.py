"""Radius-mode sessions: the incremental radacct rollup and the stale-session cleanup (both periodic, SQL only)."""
from __future__ import annotations

import logging

from isp.services import radius_sessions, sessions
from isp.transaction import atomic

log = logging.getLogger(__name__)
MAX_PASSES = 10  # a backlog (the rollup was down) is read BATCH rows per pass; the next run continues


def rollup() -> str:
    """Add the growth of new and open radacct sessions to the daily usage; raise the fair-use cap where crossed."""
    total = {"read": 0, "new": 0, "subscriptions": 0}
    for _ in range(MAX_PASSES):
        def work() -> dict:
            counts = radius_sessions.rollup()
            counts["fup"] = sessions.raise_fup(counts["used_subscriptions"])
            return counts

        counts = atomic(work)
        for key in total:
            total[key] += counts[key]
        if not counts["more"]:
            break
    return "read {read}, new {new}, subscriptions {subscriptions}".format(**total)


def cleanup() -> str:
    """Close stale open sessions and those ended by a NAS reload, so Simultaneous-Use does not lock users out."""
    counts = atomic(radius_sessions.cleanup)
    if counts["stale"] or counts["reloaded"]:
        log.info("radius sessions closed: %s stale, %s after a NAS reload", counts["stale"], counts["reloaded"])
    return "stale {stale}, reloaded {reloaded}".format(**counts)
