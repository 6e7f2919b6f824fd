"""Notification settings: each channel's config and write-only secret, and the editable templates per event."""
from __future__ import annotations

import json

from sqlalchemy import select

from isp import crypto
from isp.extensions import db
from isp.models import Branding, NotificationChannel, NotificationTemplate, User
from isp.services import audit
from isp.services import message_templates as mt
from isp.services.channels import CHANNELS, Channel, DeliveryError
from isp.services.errors import ServiceError


def config_of(row: NotificationChannel | None) -> dict:
    """A channel's stored settings ({} when never saved)."""
    try:
        return dict(json.loads(row.config_json or "{}")) if row else {}
    except (TypeError, ValueError):
        return {}


def channel_rows() -> dict[str, NotificationChannel | None]:
    """Every known channel with its settings row (None when never saved), in display order."""
    rows = {r.channel: r for r in db.session.scalars(select(NotificationChannel))}
    return {name: rows.get(name) for name in CHANNELS}


def adapter(name: str) -> Channel:
    """The channel called `name`, or a ServiceError."""
    if name not in CHANNELS:
        raise ServiceError(f"Unknown channel {name!r}.", field="channel")
    return CHANNELS[name]


def save_channel(actor: User, name: str, enabled: bool, values: dict, secret: str = "",
                 clear_secret: bool = False) -> NotificationChannel:
    """Save a channel's settings; the secret is write-only and sealed to the settings it is sent with."""
    channel = adapter(name)
    row = db.session.get(NotificationChannel, name) or NotificationChannel(channel=name, config_json="{}",
                                                                           secret_encrypted="")
    blank = not any(str(v or "").strip() for v in values.values())
    config = {} if blank and not enabled else channel.check_config(values)
    if len(secret) > 500 or any(c in secret for c in "\r\n"):
        raise ServiceError(f"{channel.secret_label}: at most 500 characters on one line.", field="secret")
    before = audit.state(row, exclude=("channel",))
    changes = []
    if secret:
        secret = channel.check_secret(secret)
        row.secret_encrypted = crypto.encrypt_bound(secret, channel.binding(config))
        changes.append("secret replaced")
    elif clear_secret and row.secret_encrypted:
        row.secret_encrypted = ""
        changes.append("secret cleared")
    elif row.secret_encrypted:
        try:
            bound = crypto.decrypt_bound(row.secret_encrypted)[1]
        except ValueError:
            raise ServiceError(f"The saved {channel.secret_label.lower()} cannot be read: type it again.",
                               field="secret") from None
        if bound is not None and bound != channel.binding(config):
            raise ServiceError(f"These settings change where the {channel.secret_label.lower()} is sent: "
                               "type it again (or clear it).", field="secret")
    if enabled and name == "webhook" and not row.secret_encrypted:
        raise ServiceError("A webhook needs a signing secret so the receiver can check each message.", field="secret")
    if enabled and name == "telegram" and not row.secret_encrypted:
        raise ServiceError("Telegram needs the bot token (from @BotFather).", field="secret")
    if config_of(row) != config:
        changes.append("settings changed")
    if bool(row.enabled) != enabled:
        changes.append("enabled" if enabled else "disabled")
    row.enabled, row.config_json = enabled, json.dumps(config, sort_keys=True)
    db.session.add(row)
    db.session.flush()
    if changes:
        audit.record(actor, "notifications.channel", name, ", ".join(changes), obj=row, changes=audit.changed(before, row))
    return row


def stored_secret(row: NotificationChannel, channel: Channel, config: dict) -> str:
    """The channel's secret, refused when the settings moved away from what it was saved with."""
    if not row.secret_encrypted:
        return ""
    try:
        secret, bound = crypto.decrypt_bound(row.secret_encrypted)
    except ValueError as err:
        raise DeliveryError(str(err)) from None
    if bound is not None and bound != channel.binding(config):
        raise DeliveryError(f"the saved {channel.secret_label.lower()} belongs to other settings; type it again")
    return secret


# -- templates -----------------------------------------------------------------------------------------------


def _check_pair(event: str, channel: str) -> None:
    if event not in mt.ALL_EVENTS:
        raise ServiceError(f"Unknown event {event!r}.", field="event")
    if event in mt.EVENTS and adapter(channel).staff_only:
        raise ServiceError(f"{CHANNELS[channel].label} carries staff alerts only.", field="channel")
    adapter(channel)


def template(event: str, channel: str) -> tuple[str, str, bool, bool]:
    """(subject, body, enabled, customised) of an event on a channel: the saved template or the built-in one."""
    row = db.session.scalar(select(NotificationTemplate).where(NotificationTemplate.event == event,
                                                               NotificationTemplate.channel == channel))
    if row is not None:
        return row.subject, row.body, row.enabled, True
    return *mt.default(event, CHANNELS[channel].html), True, False


def templates_grid() -> list[dict]:
    """Every event × channel with whether it is customised and enabled (one query)."""
    rows = {(r.event, r.channel): r for r in db.session.scalars(select(NotificationTemplate))}
    return [{"event": event, "label": label, "channel": name, "channel_label": CHANNELS[name].label,
             "custom": (event, name) in rows, "enabled": rows[(event, name)].enabled if (event, name) in rows else True}
            for event, label in mt.ALL_EVENTS.items() for name in CHANNELS
            if event in mt.ALERT_EVENTS or not CHANNELS[name].staff_only]


def sample(event: str = "reminder") -> dict:
    """Sample template variables of an event with the operator's business name and currency."""
    branding = db.session.get(Branding, 1)
    if event in mt.ALERT_EVENTS:
        return mt.sample_alert_variables(branding.business_name if branding else "")
    return mt.sample_variables(branding.business_name if branding else "", (branding.currency if branding else "") or "KES")


def preview(event: str, channel: str, subject: str, body: str) -> tuple[str, str]:
    """The message as a customer would get it, rendered with sample data; a ServiceError names what is wrong."""
    _check_pair(event, channel)
    try:
        return mt.render(CHANNELS[channel].html, subject, body, sample(event))
    except mt.TemplateProblem as err:
        raise ServiceError(str(err), field="subject" if str(err).startswith("Subject") else "body") from None


def save_template(actor: User, event: str, channel: str, subject: str, body: str, enabled: bool,
                  restore: bool = False) -> NotificationTemplate | None:
    """Save an edited template after rendering it with sample data (restore: go back to the built-in text)."""
    _check_pair(event, channel)
    row = db.session.scalar(select(NotificationTemplate).where(NotificationTemplate.event == event,
                                                               NotificationTemplate.channel == channel))
    if restore:
        if row is not None:
            audit.record(actor, "notifications.template", f"{event}/{channel}", "restored the default", obj=row,
                         changes=audit.diff(audit.state(row), {}))
            db.session.delete(row)
        db.session.flush()
        return None
    preview(event, channel, subject, body)
    row = row or NotificationTemplate(event=event, channel=channel)
    before = audit.state(row) if row.id is not None else {}
    row.subject, row.body, row.enabled = subject, body, enabled
    db.session.add(row)
    db.session.flush()
    audit.record(actor, "notifications.template", f"{event}/{channel}", "enabled" if enabled else "disabled", obj=row,
                 changes=audit.diff(before, audit.state(row)))
    return row
