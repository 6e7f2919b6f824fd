"""Alert messages through the notification outbox: one row per alert, stage and channel, and the delivery log.

A stage is "opened", "critical" (severity rose on an open alert), "escalated" or "resolved"; its template is
the editable event `alert_<stage>`. Rows carry `alert_id` (customer_id NULL) and the dedupe key
`alert:<id>:<stage>:<channel>`, so however often an evaluator runs, one alert state is sent once per channel.
Channels come from the rule (`channels`, or `escalate_channels` for an escalation); recipients from the rule's
`recipients_json` per channel (email: one or more addresses separated by commas; sms: a phone; telegram: a chat
id, else the channel's default chat); a webhook goes to its configured URL. A channel turned off in Settings or
without a recipient gets a `skipped` row saying so (visible in the alert's delivery log).
"""
from __future__ import annotations

import logging
from datetime import datetime

from flask import current_app
from sqlalchemy import and_, or_, select

from isp.extensions import db
from isp.models import (
    Alert,
    AlertRule,
    Branding,
    Notification,
    NotificationChannel,
    NotificationState,
    NotificationTemplate,
    Router,
)
from isp.models.base import utcnow
from isp.services import message_templates as mt
from isp.services import notification_settings as settings
from isp.services import notifications
from isp.services.channels import CHANNELS
from isp.services.errors import ServiceError

log = logging.getLogger(__name__)
S = NotificationState
STAGES = ("opened", "critical", "escalated", "resolved")


def dedupe_key(alert_id: int, stage: str, channel: str) -> str:
    return f"alert:{alert_id}:{stage}:{channel}"


def _recipient(name: str, rule: AlertRule, config: dict) -> str:
    """Where this rule's message goes on a channel ('' when nowhere)."""
    channel = CHANNELS[name]
    if name == "webhook":
        return config.get("url") or ""
    raw = str(rule.recipients.get(name) or "").strip()
    if name == "email":
        parts = [p.strip() for p in raw.split(",") if p.strip()]
        try:
            return ", ".join(channel.check_recipient(p) for p in parts)
        except ServiceError:
            return ""
    if not raw:
        return channel.recipient({}, config) if name == "telegram" else ""
    try:
        return channel.check_recipient(raw)
    except ServiceError:
        return ""


def _routers(ids: set[int]) -> dict[int, Router]:
    return {r.id: r for r in db.session.scalars(select(Router).where(Router.id.in_(sorted(ids))))} if ids else {}


def queue(pairs: list[tuple[Alert, str]], now: datetime) -> int:
    """Queue the messages of (alert, stage) pairs on their rules' channels; keys already used are skipped.
    Returns the number of rows queued to send (flush only; the sending job is enqueued after the commit)."""
    if not pairs:
        return 0
    enabled = {r.channel: r for r in db.session.scalars(select(NotificationChannel))}
    rules = {r.id: r for r in db.session.scalars(select(AlertRule).where(
        AlertRule.id.in_(sorted({a.rule_id for a, _ in pairs}))))}
    routers = _routers({a.router_id for a, _ in pairs if a.router_id})
    saved = {(t.event, t.channel): t for t in db.session.scalars(select(NotificationTemplate).where(
        NotificationTemplate.event.in_([f"alert_{s}" for s in STAGES])))}
    branding = db.session.get(Branding, 1)
    business = branding.business_name if branding else ""
    wanted = []
    for alert, stage in pairs:
        rule = rules[alert.rule_id]
        names = [c.strip() for c in (rule.escalate_channels if stage == "escalated" else rule.channels).split(",")]
        wanted += [(alert, stage, rule, name) for name in dict.fromkeys(n for n in names if n in CHANNELS)]
    keys = [dedupe_key(a.id, s, n) for a, s, _, n in wanted]
    taken = set(db.session.scalars(select(Notification.dedupe_key).where(Notification.dedupe_key.in_(keys)))) if keys else set()
    pending, sent_from = 0, utcnow()  # the outbox runs on the wall clock, whatever `now` the evaluation used
    for alert, stage, rule, name in wanted:
        key = dedupe_key(alert.id, stage, name)
        if key in taken:
            continue
        taken.add(key)
        channel, row = CHANNELS[name], enabled.get(name)
        config = settings.config_of(row)
        event = f"alert_{stage}"
        note = Notification(customer_id=None, subscription_id=None, alert_id=alert.id, event=event, channel=name,
                            dedupe_key=key, state=S.pending, attempts=0, next_attempt_at=sent_from,
                            last_error="", subject="", body="", created_at=sent_from)
        custom = saved.get((event, name))
        if row is None or not row.enabled:
            note.state, note.last_error = S.skipped, f"{channel.label} is turned off in Settings → Notifications"
        elif custom is not None and not custom.enabled:
            note.state, note.last_error = S.skipped, f"the {mt.ALL_EVENTS[event]} message is turned off for {channel.label}"
        else:
            note.recipient = _recipient(name, rule, config)[:254]
            if not note.recipient:
                note.state, note.last_error = S.skipped, f"the rule names no {channel.label} recipient"
            else:
                subject, body = (custom.subject, custom.body) if custom else mt.default(event, channel.html)
                values = mt.alert_variables(business, alert_values(alert, rule, routers.get(alert.router_id), stage))
                try:
                    note.subject, note.body = mt.render(channel.html, subject, body, values)
                except mt.TemplateProblem as err:
                    note.state, note.last_error = S.dead, f"template error, fix it in Settings → Notifications: {err}"
                    log.warning("alert %s message %s/%s not rendered: %s", alert.id, event, name, err)
        if notifications.insert_once(note) and note.state == S.pending:
            pending += 1
    if pending:
        notifications.send_soon()
    return pending


def alert_values(alert: Alert, rule: AlertRule, router: Router | None, stage: str) -> dict:
    """What an alert template sees about the alert (plain strings and numbers only)."""
    link = ""
    base = (current_app.config.get("PUBLIC_URL") or current_app.config.get("BASE_URL") or "").rstrip("/")
    if base:
        link = f"{base}/alerts/{alert.id}"
    value = alert.value
    return {"id": alert.id, "rule": rule.name, "kind": rule.kind.value, "severity": alert.severity.value,
            "state": alert.state.value, "stage": stage, "message": alert.message,
            "value": "" if value is None else (int(value) if float(value).is_integer() else round(value, 2)),
            "target": alert.target, "router": router.name if router else "", "site": router.site if router else "",
            "started_at": mt.local(alert.started_at), "opened_at": mt.local(alert.opened_at),
            "resolved_at": mt.local(alert.resolved_at), "link": link}


def notified(alert_ids: list[int]) -> set[int]:
    """Alerts whose opening (or rise to critical) was sent or tried on some channel (one query); a skipped row or
    one that never rendered does not count, so no recovery notice follows an opening nobody was told about."""
    if not alert_ids:
        return set()
    return set(db.session.scalars(select(Notification.alert_id).where(
        Notification.alert_id.in_(sorted(set(alert_ids))), Notification.event.in_(("alert_opened", "alert_critical")),
        or_(Notification.state.in_((S.pending, S.sent)), and_(Notification.state == S.dead, Notification.attempts > 0)),
    ).distinct()))


def deliveries(alert_id: int) -> list[Notification]:
    """An alert's delivery log: every message queued for it, oldest first (state, attempts, last_error, sent_at)."""
    return list(db.session.scalars(select(Notification).where(Notification.alert_id == alert_id)
                                   .order_by(Notification.id)))
