"""The notification outbox, queueing side: notify(), test messages and the reminders before expiry.

`notify()` renders an event's template for every enabled channel and inserts one row per channel (deduplicated
by key, so a reminder or a payment notice is queued once however often the caller runs), then enqueues the
sending job after the caller's commit. Settings and templates live in `notification_settings`, sending in
`notification_delivery`.
"""
from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload

from isp import dispatch
from isp.extensions import db
from isp.models import (
    Branding,
    Customer,
    LedgerAccount,
    Notification,
    NotificationChannel,
    NotificationState,
    NotificationTemplate,
    Subscription,
    SubscriptionState,
    User,
)
from isp.models.base import utcnow
from isp.services import audit, job_problems
from isp.services import message_templates as mt
from isp.services import notification_settings as settings
from isp.services.channels import CHANNELS, mask
from isp.services.errors import ServiceError
from isp.sqlutil import chunked

log = logging.getLogger(__name__)
S = NotificationState
REMINDER_STATES = (SubscriptionState.active, SubscriptionState.grace)


# -- queueing ------------------------------------------------------------------------------------------------


@dataclass
class _Setup:
    """What one event needs, read once: enabled channels with settings, their templates, the business."""

    event: str
    channels: dict[str, dict] = field(default_factory=dict)
    templates: dict[str, tuple[str, str]] = field(default_factory=dict)
    business_name: str = ""
    currency: str = ""


def _setup(event: str) -> _Setup:
    setup = _Setup(event)
    branding = db.session.get(Branding, 1)
    setup.business_name, setup.currency = (branding.business_name, branding.currency) if branding else ("", "")
    enabled = [r for r in db.session.scalars(select(NotificationChannel).where(NotificationChannel.enabled.is_(True)))]
    saved = {r.channel: r for r in db.session.scalars(select(NotificationTemplate).where(
        NotificationTemplate.event == event))} if enabled else {}
    for row in sorted(enabled, key=lambda r: list(CHANNELS).index(r.channel) if r.channel in CHANNELS else 99):
        if row.channel not in CHANNELS:
            continue
        custom = saved.get(row.channel)
        if custom is not None and not custom.enabled:
            continue
        setup.channels[row.channel] = settings.config_of(row)
        setup.templates[row.channel] = (custom.subject, custom.body) if custom else mt.default(event, CHANNELS[row.channel].html)
    return setup


def _key(dedupe_key: str, channel: str) -> str:
    key = f"{dedupe_key}:{channel}"
    return key if len(key) <= 191 else f"{key[:140]}:{hashlib.sha256(key.encode()).hexdigest()[:48]}"


def _taken(keys: list[str]) -> set[str]:
    """Dedupe keys already used (one query per 500)."""
    found: set[str] = set()
    for part in chunked(sorted(set(keys))):
        found.update(db.session.scalars(select(Notification.dedupe_key).where(Notification.dedupe_key.in_(part))))
    return found


def _balance(customer_id: int) -> Decimal:
    return db.session.scalar(select(LedgerAccount.balance).where(LedgerAccount.customer_id == customer_id)) or Decimal("0")


def _customer_values(customer: Customer) -> dict:
    return {"name": customer.name, "account_no": customer.account_no, "phone": customer.phone or "",
            "phone2": customer.phone2 or "", "email": customer.email or ""}


def _service_values(sub: Subscription | None, currency: str) -> dict:
    if sub is None:
        return {k: "" for k in ("username", "plan", "kind", "price", "paid_until", "paid_until_date")}
    return {"username": sub.username, "plan": sub.plan.name, "kind": sub.kind.label,
            "price": mt.money(sub.plan.price, currency), "paid_until": mt.local(sub.paid_until),
            "paid_until_date": mt.local(sub.paid_until, "%Y-%m-%d")}


def _send_soon() -> None:
    """Enqueue the sending job after the commit, once per unit (messages go out in seconds, not at the next tick)."""
    session = db.session()
    current = session.get_nested_transaction()
    for tx, job in session.info.get(dispatch.PENDING, []):
        if job.spec is dispatch.SEND_NOTIFICATIONS:
            outer = current
            while outer is not None and outer is not tx:
                outer = outer.parent
            if tx is None or outer is tx:  # it stands or falls with us: one is enough
                return
    dispatch.after_commit(db.session, dispatch.Enqueue(dispatch.SEND_NOTIFICATIONS, (),
                                                       f"notify-send-{uuid.uuid4().hex[:16]}"))


def _insert(row: Notification) -> bool:
    """Insert in a SAVEPOINT: a duplicate key (a racing caller queued it first) is dropped, the caller's unit goes on."""
    try:
        with db.session.begin_nested():
            db.session.add(row)
        return True
    except IntegrityError:
        return False


def _queue(setup: _Setup, customer: Customer, sub: Subscription | None, dedupe_key: str | None, context: dict,
           taken: set[str] | None = None) -> list[Notification]:
    keys = {name: _key(dedupe_key, name) for name in setup.channels} if dedupe_key else {}
    if keys and taken is None:
        taken = _taken(list(keys.values()))
    if "balance" not in context:
        context = {**context, "balance": _balance(customer.id)}
    customer_values = _customer_values(customer)
    values = mt.variables(setup.business_name, setup.currency, customer_values,
                          _service_values(sub, setup.currency), context)
    now, made = utcnow(), []
    for name, config in setup.channels.items():
        key = keys.get(name)
        if key is not None and key in (taken or ()):
            continue
        channel = CHANNELS[name]
        recipient = channel.recipient(customer_values, config)
        row = Notification(customer_id=customer.id, subscription_id=sub.id if sub else None, event=setup.event,
                           channel=name, recipient=recipient[:254], dedupe_key=key, state=S.pending, attempts=0,
                           next_attempt_at=now, last_error="", subject="", body="")
        if not recipient:
            row.state, row.last_error = S.skipped, channel.missing_address()
        else:
            try:
                row.subject, row.body = mt.render(channel.html, *setup.templates[name], values)
            except mt.TemplateProblem as err:
                row.state, row.last_error = S.dead, f"template error, fix it in Settings → Notifications: {err}"
                log.warning("notification %s/%s for customer %s not rendered: %s", setup.event, name, customer.id, err)
        if _insert(row):
            made.append(row)
    if any(r.state == S.pending for r in made):
        _send_soon()
    return made


def notify(event: str, customer: Customer, subscription: Subscription | None = None, dedupe_key: str | None = None,
           **context: object) -> list[Notification]:
    """Queue `event` ("reminder", "suspended", "payment", "welcome") to `customer` on every enabled channel.

    Context: amount and balance (Decimal; balance is read from the ledger when absent), days, reference, or any
    other plain value a template uses. With a dedupe_key ("payment:<id>") each channel gets the message once,
    however often this is called. A customer without an address for a channel gets a `skipped` row saying so;
    a template that cannot render gets a `dead` row with the error. Flushes, never commits; the sending job
    is enqueued after the caller's commit.
    """
    if event not in mt.EVENTS:
        raise ValueError(f"unknown notification event {event!r}")
    setup = _setup(event)
    return _queue(setup, customer, subscription, dedupe_key, context) if setup.channels else []


def queue_test(actor: User, name: str, recipient: str) -> Notification:
    """Queue the reminder template, rendered with sample data, to an address the admin typed (one attempt)."""
    channel = settings.adapter(name)
    row = db.session.get(NotificationChannel, name)
    config = settings.config_of(row)
    if not config:
        raise ServiceError(f"Save the {channel.label} settings first.", field="recipient")
    to = channel.check_recipient(recipient or "") or channel.recipient({}, config)
    subject, body, _, _ = settings.template("reminder", name)
    try:
        subject, body = mt.render(channel.html, subject, body, settings.sample())
    except mt.TemplateProblem as err:
        raise ServiceError(f"The reminder template cannot be rendered: {err}", field="recipient") from None
    test = Notification(customer_id=None, subscription_id=None, event=mt.TEST_EVENT, channel=name, recipient=to[:254],
                        subject=f"[Test] {subject}"[:200], body=body, state=S.pending, attempts=0,
                        next_attempt_at=utcnow(), last_error="")
    db.session.add(test)
    db.session.flush()
    audit.record(actor, "notifications.test", name, mask(to, name))
    _send_soon()
    return test




# -- reminders -----------------------------------------------------------------------------------------------


def reminder_days(text: str | None) -> list[int]:
    """Settings' "3,1" as [3, 1]: whole days before paid_until, 0..90, largest first; bad parts ignored."""
    days = {int(p) for p in (text or "").replace(";", ",").split(",") if p.strip().isdigit() and int(p) <= 90}
    return sorted(days, reverse=True)


def _balances(customer_ids: list[int]) -> dict[int, Decimal]:
    found: dict[int, Decimal] = {}
    for part in chunked(sorted(set(customer_ids))):
        found.update(db.session.execute(select(LedgerAccount.customer_id, LedgerAccount.balance).where(
            LedgerAccount.customer_id.in_(part))).tuples().all())
    return found


def queue_reminders(now: datetime | None = None) -> int:
    """Queue a reminder for each auto-renewing active/grace service whose paid_until falls on one of the
    reminder days (operator's calendar days ahead); one query per day, each reminder once (dedupe key)."""
    now = now or utcnow()
    setup = _setup("reminder")
    branding = db.session.get(Branding, 1)
    if not setup.channels:
        return 0
    tz = ZoneInfo(current_app.config["ISP_TIMEZONE"])
    today, queued = now.astimezone(tz).date(), 0
    for days in reminder_days(branding.reminder_days if branding else "3,1"):
        start = datetime.combine(today + timedelta(days=days), time.min, tzinfo=tz)
        subs = list(db.session.scalars(select(Subscription).options(lazyload(Subscription.router)).where(
            Subscription.state.in_(REMINDER_STATES), Subscription.auto_renew.is_(True),
            Subscription.paid_until >= start.astimezone(UTC),
            Subscription.paid_until < (start + timedelta(days=1)).astimezone(UTC)).order_by(Subscription.id)))
        if not subs:
            continue
        prefix = {s.id: f"reminder:{s.id}:{s.paid_until.astimezone(tz):%Y-%m-%d}:{days}" for s in subs}
        taken = _taken([_key(prefix[s.id], name) for s in subs for name in setup.channels])
        balances = _balances([s.customer_id for s in subs])
        made: list[Notification] = []

        def work(rows: list[Subscription], days: int = days, prefix: dict = prefix, taken: set = taken,
                 balances: dict = balances, made: list = made) -> None:
            for sub in rows:
                made.extend(_queue(setup, sub.customer, sub, prefix[sub.id], {
                    "days": days, "amount": sub.plan.price, "balance": balances.get(sub.customer_id, Decimal("0"))},
                    taken))

        job_problems.isolated("notifications.queue_reminders", subs, work, lambda s: f"subscription {s.id}")
        queued += sum(1 for r in made if r.state == S.pending)
    return queued
