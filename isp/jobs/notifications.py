"""The notification outbox jobs: send what is due, and queue the reminders before expiry."""
from __future__ import annotations

import logging
import time

from isp.services import notification_delivery, notifications
from isp.transaction import atomic

log = logging.getLogger(__name__)
BATCH = 20      # rows claimed at a time: a worker never holds many that another could be sending
BUDGET = 90.0   # seconds of sending per run (the job's timeout is 120 s); the next run carries on


def send_due() -> int:
    """Send pending notifications whose time has come, a few claimed at a time; returns how many went out.

    A claim and each outcome are their own committed units, and no network call runs inside a
    transaction, so a slow SMTP server holds no locks and a crash resends at most the row in hand.
    A server found unreachable is not waited on again in the same run: its other rows back off at once.
    """
    sent, deadline, down = 0, time.monotonic() + BUDGET, {}
    while time.monotonic() < deadline:
        claimed = atomic(lambda: notification_delivery.claim_due(BATCH))
        if not claimed:
            break
        for n, notification_id in enumerate(claimed):
            if time.monotonic() >= deadline:  # out of time: the rest go back, due at once for the next run
                atomic(lambda rest=claimed[n:]: notification_delivery.release(rest))
                break
            outcome = notification_delivery.attempt(notification_id, down)
            state = atomic(lambda nid=notification_id, done=outcome: notification_delivery.settle(nid, done))
            sent += state is not None and state.value == "sent"
    if sent:
        log.info("sent %s notifications", sent)
    return sent


def queue_reminders() -> int:
    """Queue reminders before expiry (Settings' reminder days); returns how many messages were queued."""
    queued = atomic(notifications.queue_reminders)
    if queued:
        log.info("queued %s reminder messages", queued)
    return queued
