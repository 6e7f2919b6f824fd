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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import insert, inspect, select
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
    ServicePlan,
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
        if row.channel not in CHANNELS or CHANNELS[row.channel].staff_only:  # e.g. Telegram: staff alerts only
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


def send_soon() -> None:
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


def insert_once(row: Notification) -> bool:
    """Insert in a SAVEPOINT: a duplicate key (a racing caller queued it first) is dropped, the caller's unit goes on."""
    try:
        with db.session.begin_nested():
            db.session.add(row)
        return True
    except IntegrityError:
        return False


def _rows_for(setup: _Setup, customer: Customer, sub: Subscription | None, keys: dict[str, str], taken: set[str],
              context: dict, now: datetime) -> list[dict]:
    """The notification rows (column values) of one customer/service on every channel, rendered; taken keys left out."""
    customer_values = _customer_values(customer)
    values = mt.variables(setup.business_name, setup.currency, customer_values,
                          _service_values(sub, setup.currency), context)
    made = []
    for name, config in setup.channels.items():
        key = keys.get(name)
        if key is not None and key in taken:
            continue
        channel = CHANNELS[name]
        recipient = channel.recipient(customer_values, config)
        row = {"customer_id": customer.id, "subscription_id": sub.id if sub else None, "event": setup.event,
               "channel": name, "recipient": recipient[:254], "dedupe_key": key, "state": S.pending, "attempts": 0,
               "next_attempt_at": now, "last_error": "", "subject": "", "body": "", "created_at": now}
        if not recipient:
            row["state"], row["last_error"] = S.skipped, channel.missing_address()
        else:
            try:
                row["subject"], row["body"] = mt.render(channel.html, *setup.templates[name], values)
            except mt.TemplateProblem as err:
                row["state"], row["last_error"] = S.dead, f"template error, fix it in Settings → Notifications: {err}"
                log.warning("notification %s/%s for customer %s not rendered: %s", setup.event, name, customer.id, err)
        made.append(row)
    return made


def _queue(setup: _Setup, customer: Customer, sub: Subscription | None, dedupe_key: str | None, context: dict,
           taken: set[str] | None = None) -> list[Notification]:
    keys = {name: _key(dedupe_key, name) for name in setup.channels} if dedupe_key else {}
    if keys and taken is None:
        taken = _taken(list(keys.values()))
    if "balance" not in context:
        context = {**context, "balance": _balance(customer.id)}
    made = [Notification(**row) for row in _rows_for(setup, customer, sub, keys, taken or set(), context, utcnow())]
    made = [row for row in made if insert_once(row)]
    if any(r.state == S.pending for r in made):
        send_soon()
    return made


def _load(subs: list[Subscription]) -> None:
    """Put the services' customers and plans in the session at once (one IN query per 500 each), so reading
    sub.customer and sub.plan afterwards costs no query per service."""
    for model, attr, fk in ((Customer, "customer", "customer_id"), (ServicePlan, "plan", "plan_id")):
        ids = {getattr(s, fk) for s in subs if attr in inspect(s).unloaded}  # usually loaded already (joined)
        for part in chunked(sorted(i for i in ids if i is not None)):
            db.session.scalars(select(model).options(lazyload("*")).where(model.id.in_(part))).all()


def _queue_many(setup: _Setup, subs: list[Subscription], dedupe_key: Callable[[Subscription], str] | None,
                context: dict, context_of: Callable[[Subscription], dict] | None = None) -> int:
    """Queue `setup.event` for every service in a few statements; the number of rows queued as pending."""
    if not subs or not setup.channels:
        return 0
    _load(subs)
    keys = {s.id: {name: _key(dedupe_key(s), name) for name in setup.channels} for s in subs} if dedupe_key else {}
    taken = _taken([k for per_sub in keys.values() for k in per_sub.values()]) if keys else set()
    balances = {} if "balance" in context else _balances([s.customer_id for s in subs])
    now, rows = utcnow(), []
    for sub in subs:
        values = {**context, **(context_of(sub) if context_of else {})}
        values.setdefault("balance", balances.get(sub.customer_id, Decimal("0")))
        made = _rows_for(setup, sub.customer, sub, keys.get(sub.id, {}), taken, values, now)
        taken.update(r["dedupe_key"] for r in made if r["dedupe_key"])  # one key once, even within the batch
        rows.extend(made)
    if not rows:
        return 0
    try:
        with db.session.begin_nested():
            db.session.execute(insert(Notification), rows)
        inserted = rows
    except IntegrityError:  # a racing caller queued some of them first: insert one by one, dropping its keys
        inserted = [row for row in rows if insert_once(Notification(**row))]
    pending = sum(1 for r in inserted if r["state"] == S.pending)
    if pending:
        send_soon()
    return pending


def notify_many(event: str, subs: Iterable[Subscription], dedupe_key: Callable[[Subscription], str] | None = None,
                context_of: Callable[[Subscription], dict] | None = None, **context: object) -> int:
    """Queue `event` for many services at once (to each service's customer, on every enabled channel); the
    number of messages queued to send.

    Same rows as notify() per service, in a bounded number of statements whatever the count: channels and
    templates read once, one IN query each for the customers, plans, taken dedupe keys and balances, one
    multi-row insert. `dedupe_key(sub)` names each service's message (a key already used is skipped);
    `context_of(sub)` adds per-service context (e.g. the amount) to the shared `context`. When a racing caller
    inserted some keys first, the batch falls back to one SAVEPOINT insert per row. Flushes, never commits;
    the sending job is enqueued once, after the caller's commit.
    """
    if event not in mt.EVENTS:
        raise ValueError(f"unknown notification event {event!r}")
    subs = list(subs)
    if not subs:
        return 0
    setup = _setup(event)
    return _queue_many(setup, subs, dedupe_key, context, context_of)


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
    if not to:
        raise ServiceError(f"Type where to send the {channel.label} test.", field="recipient")
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
    send_soon()
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
        counts: list[int] = []

        def work(rows: list[Subscription], days: int = days, prefix: dict = prefix, counts: list = counts) -> None:
            counts.append(_queue_many(setup, rows, lambda sub: prefix[sub.id], {"days": days},
                                      lambda sub: {"amount": sub.plan.price}))

        # One batch; a bad service makes job_problems retry row by row, so only that one is left out (and logged).
        job_problems.isolated("notifications.queue_reminders", subs, work, lambda s: f"subscription {s.id}")
        queued += sum(counts)  # a failed call appends nothing
    return queued
