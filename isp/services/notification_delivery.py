"""The notification outbox, sending side: claim due rows, hand them to their channel, record the outcome; the logs.

The job runs three steps per row so no network call ever sits inside a transaction: `claim_due()` (committed)
marks a few rows as this worker's, `attempt()` sends one, `settle()` (committed) records sent, a retry with
backoff, or dead after the last attempt, with a line on the customer's timeline.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from isp import dispatch
from isp.extensions import db
from isp.models import Customer, CustomerEvent, Notification, NotificationChannel, NotificationState, User
from isp.models.base import utcnow
from isp.services import customers, paging
from isp.services import message_templates as mt
from isp.services import notification_settings as settings
from isp.services.channels import CHANNELS, DeliveryError, mask

log = logging.getLogger(__name__)
S = NotificationState
MAX_ATTEMPTS = 8       # then the row is dead (NOTIFY_MAX_ATTEMPTS overrides)
RETRY_BASE = 60.0      # seconds before the second attempt, doubled per attempt (NOTIFY_RETRY_BASE)
RETRY_CAP = 3600.0     # at most an hour between attempts (NOTIFY_RETRY_CAP)
LEASE = 600            # seconds a claimed row is held: a worker that dies mid-send frees it after this


def _setting(key: str, default: float) -> float:
    return current_app.config.get(key, default)


def claim_due(limit: int = 20) -> list[int]:
    """Claim up to `limit` due pending rows for this worker: attempts bumped, held for LEASE seconds.

    Each row is claimed by a conditional UPDATE on the attempts count it was read with, so two workers
    reading the same ids cannot both win it (the loser's UPDATE matches nothing once the winner commits).
    """
    now = utcnow()
    due = db.session.execute(select(Notification.id, Notification.attempts).where(
        Notification.state == S.pending,
        or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
    ).order_by(Notification.id).limit(limit)).all()
    held, claimed = now + timedelta(seconds=LEASE), []
    for notification_id, attempts in due:
        won = db.session.execute(update(Notification).where(
            Notification.id == notification_id, Notification.state == S.pending, Notification.attempts == attempts,
        ).values(attempts=attempts + 1, next_attempt_at=held), execution_options={"synchronize_session": False}).rowcount
        if won:
            claimed.append(notification_id)
    return claimed


def release(notification_ids: list[int]) -> None:
    """Give back claimed rows this run had no time to send: due again at once, the claim's attempt undone."""
    if notification_ids:
        db.session.execute(update(Notification).where(Notification.id.in_(notification_ids),
                                                      Notification.state == S.pending, Notification.attempts > 0).values(
            attempts=Notification.attempts - 1, next_attempt_at=utcnow()), execution_options={"synchronize_session": False})


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: sent, failed (retry), skipped or dead, and why."""

    state: str
    error: str = ""


def attempt(notification_id: int, down: dict[str, str] | None = None) -> Outcome | None:
    """Hand one claimed row to its channel (network I/O; writes nothing). None: the row is no longer pending.

    `down` (channel -> error) carries what this run learnt: once a server could not be reached, the other
    rows for it fail at once with the same error (and back off) instead of each waiting out the timeout.
    """
    row = db.session.get(Notification, notification_id, populate_existing=True)
    if row is None or row.state != S.pending:
        return None
    channel = CHANNELS.get(row.channel)
    if channel is None:
        return Outcome("dead", f"unknown channel {row.channel!r}")
    setting = db.session.get(NotificationChannel, row.channel)
    if row.event != mt.TEST_EVENT and (setting is None or not setting.enabled):
        return Outcome("skipped", f"{channel.label} was turned off before the message was sent")
    config = settings.config_of(setting)
    if not config:
        return Outcome("failed", f"{channel.label} is not configured")
    if down is not None and row.channel in down:
        return Outcome("failed", f"{down[row.channel]} (not tried again in this run)")
    try:
        channel.send(row, config, settings.stored_secret(setting, channel, config))
    except DeliveryError as err:
        log.info("notification %s by %s failed: %s", row.id, row.channel, err)
        if err.down and down is not None:
            down[row.channel] = str(err)[:900]
        return Outcome("failed", str(err)[:1000])
    except Exception as err:  # a bug in a channel must not stop the others
        log.exception("notification %s by %s: unexpected error", row.id, row.channel)
        return Outcome("failed", f"unexpected error ({type(err).__name__})")
    log.info("notification %s (%s) sent by %s to %s", row.id, row.event, row.channel, mask(row.recipient, row.channel))
    return Outcome("sent")


def _timeline(row: Notification, text: str) -> None:
    if row.customer_id is None:
        return
    label = mt.ALL_EVENTS.get(row.event, row.event.capitalize())
    db.session.add(CustomerEvent(customer_id=row.customer_id, subscription_id=row.subscription_id, kind="notification",
                                 summary=f"{label} by {CHANNELS[row.channel].label} to {mask(row.recipient, row.channel)}: "
                                         f"{text}"[:2000], actor_id=None))


def settle(notification_id: int, outcome: Outcome | None) -> NotificationState | None:
    """Record an attempt: sent, retried with backoff, skipped, or dead after the last attempt (timeline line for sent/dead)."""
    row = db.session.get(Notification, notification_id)
    if outcome is None or row is None or row.state != S.pending:
        return row.state if row else None
    now = utcnow()
    limit = 1 if row.event == mt.TEST_EVENT else int(_setting("NOTIFY_MAX_ATTEMPTS", MAX_ATTEMPTS))
    if outcome.state == "sent":
        row.state, row.sent_at, row.next_attempt_at, row.last_error = S.sent, now, None, ""
        _timeline(row, "sent")
    elif outcome.state == "skipped":
        row.state, row.next_attempt_at, row.last_error = S.skipped, None, outcome.error
    elif outcome.state == "dead" or row.attempts >= limit:
        row.state, row.next_attempt_at, row.last_error = S.dead, None, outcome.error
        _timeline(row, f"not delivered after {row.attempts} attempt{'s' if row.attempts != 1 else ''}: {outcome.error}")
    else:
        delay = dispatch.backoff(row.attempts, _setting("NOTIFY_RETRY_BASE", RETRY_BASE),
                                 _setting("NOTIFY_RETRY_CAP", RETRY_CAP))
        row.next_attempt_at, row.last_error = now + timedelta(seconds=delay), outcome.error
    db.session.flush()
    return row.state


def customer_log(user: User, customer_id: int, limit: int = 50) -> tuple[Customer | None, list[Notification]]:
    """A customer's latest messages, newest first; (None, []) when the customer does not exist for this user.

    A reseller reaches only their own customers, and none once their right to sell is withdrawn (customers.scoped,
    in the query, so a guessed id finds nothing).
    """
    customer = customers.get(user, customer_id)
    if customer is None:
        return None, []
    rows = db.session.scalars(select(Notification).where(Notification.customer_id == customer.id)
                              .order_by(Notification.id.desc()).limit(limit))
    return customer, list(rows)


LOG_FILTERS = ("state", "channel", "event")


def log_page(filters: dict, per_page: int) -> paging.IdPagination:
    """Every message, newest first, filtered by state, channel and event, paged by ids."""
    query = select(Notification).order_by(Notification.id.desc())
    if filters.get("state") in S.__members__:
        query = query.where(Notification.state == S[filters["state"]])
    if filters.get("channel") in CHANNELS:
        query = query.where(Notification.channel == filters["channel"])
    if filters.get("event") in (*mt.ALL_EVENTS, mt.TEST_EVENT):
        query = query.where(Notification.event == filters["event"])
    return paging.paginate(query, Notification.id, per_page)


def customers_of(rows: list[Notification]) -> dict[int, Customer]:
    """The customers of a page of messages (one query)."""
    ids = {r.customer_id for r in rows if r.customer_id}
    return {c.id: c for c in db.session.scalars(select(Customer).where(Customer.id.in_(ids)))} if ids else {}


def recent_tests(limit: int = 5) -> list[Notification]:
    """The latest test messages sent from Settings, newest first."""
    return list(db.session.scalars(select(Notification).where(Notification.event == mt.TEST_EVENT)
                                   .order_by(Notification.id.desc()).limit(limit)))
