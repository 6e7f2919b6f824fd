"""Forms of the notifications blueprint: one per channel's settings, the test message, a template."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from isp.models import NotificationChannel
from isp.services import message_templates
from isp.services.channels import CHANNELS
from isp.services.notification_settings import config_of

_SECRET_KW = {"autocomplete": "new-password", "spellcheck": "false"}


class _ChannelForm(FlaskForm):
    """Common to every channel: on/off and the write-only secret."""

    enabled = BooleanField("Send messages on this channel")
    secret = PasswordField("Secret", validators=[Length(max=500)], render_kw=_SECRET_KW)
    clear_secret = BooleanField("Clear the saved secret")

    config_fields: tuple[str, ...] = ()

    def values(self) -> dict:
        """The channel's settings as the service expects them."""
        return {name: self[name].data or "" for name in self.config_fields}


class EmailForm(_ChannelForm):
    """SMTP server, sender and login."""

    host = StringField("SMTP server", validators=[Length(max=255)], render_kw={"placeholder": "smtp.example.com"})
    port = StringField("Port", validators=[Length(max=5)], render_kw={"placeholder": "587", "inputmode": "numeric"})
    security = SelectField("Security", choices=[("starttls", "STARTTLS (port 587)"), ("ssl", "TLS (port 465)"),
                                                ("none", "None (a relay on the local network only)")])
    sender = StringField("From", validators=[Length(max=254)], render_kw={"placeholder": "Acme ISP <billing@acme.example>"})
    username = StringField("Username", validators=[Length(max=254)], render_kw={"autocomplete": "off"})
    config_fields = ("host", "port", "security", "sender", "username")


class WebhookForm(_ChannelForm):
    """The receiving URL (the secret signs every body)."""

    url = StringField("Webhook URL", validators=[Length(max=500)], render_kw={"placeholder": "https://example.com/isp-events"})
    config_fields = ("url",)


class SmsForm(_ChannelForm):
    """An SMS or WhatsApp HTTP gateway driven by a URL template."""

    url = StringField("Gateway URL template", validators=[Length(max=500)],
                      render_kw={"placeholder": "https://gw.example/send?to={phone}&text={message}", "spellcheck": "false"})
    method = SelectField("Method", choices=[("GET", "GET (values in the URL)"), ("POST", "POST (values as a form body)")])
    auth_header = StringField("Auth header", validators=[Length(max=64)], render_kw={"placeholder": "Authorization"})
    sender = StringField("Sender id", validators=[Length(max=32)])
    config_fields = ("url", "method", "auth_header", "sender")


class TelegramForm(_ChannelForm):
    """A Telegram bot (staff alerts): the Bot API address and a default chat."""

    api_base = StringField("Bot API address", validators=[Length(max=500)],
                           render_kw={"placeholder": "https://api.telegram.org", "spellcheck": "false"})
    chat_id = StringField("Default chat", validators=[Length(max=40)], render_kw={"placeholder": "-1001234567890"})
    config_fields = ("api_base", "chat_id")


FORMS: dict[str, type[_ChannelForm]] = {"email": EmailForm, "webhook": WebhookForm, "sms": SmsForm,
                                        "telegram": TelegramForm}


def channel_form(name: str, row: NotificationChannel | None, submitted: bool = False) -> _ChannelForm:
    """The settings form of channel `name` (fields prefixed by the name, so three forms share one page)."""
    form_class = FORMS[name]
    if submitted:
        form = form_class(prefix=name)
    else:
        form = form_class(prefix=name, data={"enabled": bool(row and row.enabled), **config_of(row)})
    form.secret.label.text = CHANNELS[name].secret_label
    return form


class SendTestForm(FlaskForm):
    """A test message to an address typed in."""

    channel = SelectField("Channel", choices=[(name, c.label) for name, c in CHANNELS.items()])
    recipient = StringField("Send to", validators=[Length(max=254)],
                            render_kw={"placeholder": "you@example.com, +254700000000 or a Telegram chat id (webhook: its URL)"})


class TemplateForm(FlaskForm):
    """The subject and body of one event on one channel."""

    event = HiddenField()
    channel = HiddenField()
    subject = StringField("Subject", validators=[Length(max=200)])
    body = TextAreaField("Body", validators=[Length(max=message_templates.MAX_SOURCE)], render_kw={"rows": 10,
                                                                                                  "spellcheck": "false"})
    enabled = BooleanField("Send this message")
