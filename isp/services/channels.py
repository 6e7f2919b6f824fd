"""Delivery channels of the notification outbox: SMTP email, a signed HTTP webhook, an SMS/WhatsApp HTTP gateway,
and Telegram (Bot HTTP API, staff alerts only).

Each channel checks its settings when they are saved, names the recipient of a customer, and sends one
rendered message; a failure raises `DeliveryError` with a reason fit for the delivery log (never a secret,
never the message body). `CHANNELS` maps a channel's name to its adapter: a new channel is one more entry.

Webhook signature scheme (what a receiver checks):
    X-ISP-Timestamp: <unix seconds when sent>
    X-ISP-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body bytes)>
    X-ISP-Delivery:  <notification id> (the same on every retry: use it to drop duplicates)
The receiver recomputes the HMAC over the timestamp, a dot and the body exactly as received, compares it in
constant time, and refuses a timestamp more than 5 minutes from its clock, so a captured request cannot be
replayed later and the timestamp cannot be changed without breaking the signature.
"""
from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import re
import smtplib
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from html.parser import HTMLParser
from typing import Any

from isp.extensions import db
from isp.models import Alert, AlertRule, Customer, Notification, Router, Subscription
from isp.services.errors import ServiceError

TIMEOUT = 5.0  # seconds for every connection, read and write: a slow provider must not hold the worker
SIGNATURE_TOLERANCE = 300  # seconds a receiver should accept between X-ISP-Timestamp and its clock
EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
PHONE_RE = re.compile(r"^\+?[0-9]{5,20}$")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
SMS_PLACEHOLDERS = ("phone", "message", "subject", "sender", "token")


class DeliveryError(Exception):
    """A message could not be handed over; the reason goes to the delivery log and the row is retried.

    `down` marks a failure to reach the server at all (refused, timed out): the rest of the run does not
    wait on the same server again.
    """

    def __init__(self, message: str, down: bool = False) -> None:
        super().__init__(message)
        self.down = down


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A webhook or gateway answering with a redirect has not taken the message (and may point anywhere)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _http(request: urllib.request.Request, what: str) -> int:
    """Send an HTTP request with the short timeout; a 2xx answer is success, anything else a DeliveryError."""
    try:
        with _OPENER.open(request, timeout=TIMEOUT) as response:
            response.read(4096)
            return response.status
    except urllib.error.HTTPError as err:
        raise DeliveryError(f"{what} answered HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DeliveryError(f"{what} unreachable: {reason}", down=True) from None
    except (ValueError, http.client.HTTPException) as err:
        # e.g. http.client.InvalidURL, whose text is the whole URL (a Telegram URL holds the bot token):
        # name only the kind of error, never the URL.
        raise DeliveryError(f"{what}: the request could not be made ({type(err).__name__})") from None


def _http_url(value: str, field: str, label: str) -> str:
    url = (value or "").strip()
    parts = urllib.parse.urlsplit(url.replace("{", "").replace("}", ""))
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() or not c.isprintable() for c in url):
        raise ServiceError(f"{label} must be an http:// or https:// address.", field=field)
    if len(url) > 500:
        raise ServiceError(f"{label}: at most 500 characters.", field=field)
    return url


def _int(value: object, field: str, label: str, low: int, high: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ServiceError(f"{label} must be a whole number.", field=field) from None
    if not low <= number <= high:
        raise ServiceError(f"{label} must be between {low} and {high}.", field=field)
    return number


class Channel:
    """What every channel provides; subclasses fill it in."""

    name = ""
    label = ""
    html = False  # True: the body template is HTML (rendered with autoescape)
    secret_label = "Secret"
    staff_only = False  # True: carries staff alerts only (customers have no address on it)
    # Config keys whose change needs the secret typed again (the secret is sealed to them).
    bound_to: tuple[str, ...] = ()

    def check_config(self, values: dict) -> dict:
        """The channel's settings cleaned up, or a ServiceError naming the bad field."""
        raise NotImplementedError

    def recipient(self, customer: dict, config: dict) -> str:
        """Where this customer's message goes on this channel ('' when the customer has no usable address)."""
        raise NotImplementedError

    def check_recipient(self, value: str) -> str:
        """An address typed in for a test message, cleaned up, or a ServiceError."""
        return value.strip()

    def check_secret(self, secret: str) -> str:
        """A newly typed secret, cleaned up, or a ServiceError on field "secret" (any single line by default)."""
        return secret

    def send(self, notification: Notification, config: dict, secret: str) -> None:
        """Hand one message over; raises DeliveryError when it was not accepted."""
        raise NotImplementedError

    def binding(self, config: dict) -> dict:
        """The settings the secret is sealed to: changing them requires the secret again."""
        return {key: config.get(key) for key in self.bound_to}

    def missing_address(self) -> str:
        """Why a customer was skipped on this channel."""
        return f"no address for {self.label}"


class _Text(HTMLParser):
    """An HTML body as plain text (the text/plain part of an email)."""

    BREAKS = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def text(self) -> str:
        lines = [" ".join(line.split()) for line in "".join(self.parts).splitlines()]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(html: str) -> str:
    """Plain text of an HTML body: tags dropped, entities decoded, one line per block."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return parser.text()


class EmailChannel(Channel):
    """SMTP with optional STARTTLS or implicit TLS and login."""

    name, label, html = "email", "Email", True
    secret_label = "SMTP password"
    bound_to = ("host", "port", "username", "security")
    SECURITY = ("starttls", "ssl", "none")

    def check_config(self, values: dict) -> dict:
        """Host, port, sender, username and the TLS mode."""
        host = (values.get("host") or "").strip().lower()
        if not host or not re.match(r"^[a-z0-9.\-:\[\]]+$", host):
            raise ServiceError("Give the SMTP server's host name, such as smtp.example.com.", field="host")
        security = values.get("security") or "starttls"
        if security not in self.SECURITY:
            raise ServiceError("Security must be STARTTLS, TLS or none.", field="security")
        port = _int(values.get("port") or (465 if security == "ssl" else 587), "port", "Port", 1, 65535)
        sender = (values.get("sender") or "").strip()
        name, address = parseaddr(sender)
        if not EMAIL_RE.match(address or "") or "\n" in sender or "\r" in sender:
            raise ServiceError("From must be an address such as billing@example.com or 'Acme ISP <billing@example.com>'.",
                               field="sender")
        username = (values.get("username") or "").strip()
        if len(username) > 254 or any(c in username for c in "\r\n"):
            raise ServiceError("Username: at most 254 characters on one line.", field="username")
        return {"host": host, "port": port, "security": security, "sender": sender, "username": username}

    def recipient(self, customer: dict, config: dict) -> str:
        """The customer's email address when it looks like one."""
        email = (customer.get("email") or "").strip()
        return email if EMAIL_RE.match(email) else ""

    def check_recipient(self, value: str) -> str:
        """A typed email address."""
        email = value.strip()
        if not EMAIL_RE.match(email):
            raise ServiceError("Type an email address to send the test to.", field="recipient")
        return email

    def missing_address(self) -> str:
        """Why a customer was skipped."""
        return "the customer has no email address"

    def message(self, notification: Notification, config: dict) -> EmailMessage:
        """The email: the HTML body with its plain-text twin."""
        msg = EmailMessage()
        msg["From"] = config["sender"]
        msg["To"] = notification.recipient
        msg["Subject"] = " ".join((notification.subject or "").split())
        msg["Date"] = formatdate(localtime=False)
        domain = parseaddr(config["sender"])[1].rpartition("@")[2] or None
        msg["Message-ID"] = make_msgid(f"n{notification.id}", domain=domain)
        msg.set_content(html_to_text(notification.body))
        msg.add_alternative(notification.body, subtype="html")
        return msg

    def send(self, notification: Notification, config: dict, secret: str) -> None:
        """Deliver through the SMTP server: STARTTLS or TLS as configured, login when a username is set."""
        host, port, security = config["host"], int(config["port"]), config.get("security", "starttls")
        context = ssl.create_default_context()
        what = f"SMTP server {host}:{port}"
        try:
            if security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT, context=context)
            else:
                client = smtplib.SMTP(host, port, timeout=TIMEOUT)
            with client:
                if security == "starttls":
                    client.starttls(context=context)
                if config.get("username"):
                    client.login(config["username"], secret)
                refused = client.send_message(self.message(notification, config))
        except smtplib.SMTPAuthenticationError as err:
            raise DeliveryError(f"{what} refused the login ({err.smtp_code})") from None
        except smtplib.SMTPRecipientsRefused as err:
            codes = ", ".join(str(code) for code, _ in err.recipients.values())
            raise DeliveryError(f"{what} refused the recipient ({codes})") from None
        except smtplib.SMTPResponseException as err:
            raise DeliveryError(f"{what} answered {err.smtp_code} {_short(err.smtp_error)}") from None
        except smtplib.SMTPNotSupportedError:
            raise DeliveryError(f"{what} does not offer STARTTLS; choose TLS or none") from None
        except (smtplib.SMTPException, ssl.SSLError, OSError) as err:
            raise DeliveryError(f"{what} unreachable: {_short(err)}", down=True) from None
        if refused:
            raise DeliveryError(f"{what} refused the recipient")


def _short(value: object) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return " ".join(text.split())[:200]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-ISP-Signature value: sha256=<hex HMAC-SHA256 over "<timestamp>." + body with the channel secret>."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str, now: float | None = None) -> bool:
    """What a receiver does: the signature matches and the timestamp is within SIGNATURE_TOLERANCE of its clock."""
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        return False
    return age <= SIGNATURE_TOLERANCE and hmac.compare_digest(sign(secret, timestamp, body), signature or "")


class WebhookChannel(Channel):
    """POST a JSON document, HMAC-signed with the channel secret, to one URL."""

    name, label = "webhook", "Webhook"
    secret_label = "Signing secret"

    def check_config(self, values: dict) -> dict:
        """The receiver's URL."""
        return {"url": _http_url(values.get("url") or "", "url", "Webhook URL")}

    def recipient(self, customer: dict, config: dict) -> str:
        """Every message goes to the configured URL."""
        return config.get("url") or ""

    def check_recipient(self, value: str) -> str:
        """A test goes to the configured URL whatever is typed."""
        return ""

    def missing_address(self) -> str:
        """Why a message was skipped."""
        return "the webhook has no URL"

    def payload(self, notification: Notification) -> bytes:
        """The JSON body: delivery id, event, customer, service, subject and body."""
        customer = db.session.get(Customer, notification.customer_id) if notification.customer_id else None
        sub = db.session.get(Subscription, notification.subscription_id) if notification.subscription_id else None
        document = {
            "id": notification.id, "event": notification.event, "subject": notification.subject,
            "body": notification.body, "created_at": notification.created_at.isoformat(),
            "customer": {"id": customer.id, "account_no": customer.account_no, "name": customer.name,
                         "phone": customer.phone, "email": customer.email} if customer else None,
            "service": {"id": sub.id, "username": sub.username, "kind": sub.kind.value,
                        "paid_until": sub.paid_until.isoformat() if sub.paid_until else None} if sub else None,
        }
        if notification.alert_id:
            document["alert"] = _alert_document(notification.alert_id)
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")

    def send(self, notification: Notification, config: dict, secret: str) -> None:
        """POST the signed document; a 2xx answer is delivery."""
        body = self.payload(notification)
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "User-Agent": "isp-panel-notifications",
                   "X-ISP-Event": notification.event, "X-ISP-Delivery": str(notification.id),
                   "X-ISP-Timestamp": timestamp}
        if secret:
            headers["X-ISP-Signature"] = sign(secret, timestamp, body)
        url = config.get("url") or notification.recipient
        _http(urllib.request.Request(url, data=body, headers=headers, method="POST"), f"webhook {_host(url)}")


def _alert_document(alert_id: int) -> dict | None:
    """The alert a staff message is about, for a webhook receiver (None once the alert was deleted)."""
    alert = db.session.get(Alert, alert_id)
    if alert is None:
        return None
    rule = db.session.get(AlertRule, alert.rule_id)
    router = db.session.get(Router, alert.router_id) if alert.router_id else None
    return {"id": alert.id, "rule": rule.name if rule else "", "kind": rule.kind.value if rule else "",
            "state": alert.state.value, "severity": alert.severity.value, "value": alert.value, "message": alert.message,
            "target": alert.target, "router": {"id": router.id, "name": router.name, "site": router.site} if router else None,
            "started_at": alert.started_at.isoformat() if alert.started_at else None,
            "opened_at": alert.opened_at.isoformat() if alert.opened_at else None,
            "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
            "suppressed": alert.suppressed}


def _host(url: str) -> str:
    """Scheme and host of a URL, for the log (a query string may carry a token)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def fill(template: str, values: dict[str, str]) -> str:
    """Put URL-encoded values into a URL template's {placeholders} (never str.format: no attribute lookups)."""
    return _PLACEHOLDER.sub(lambda m: urllib.parse.quote(values.get(m.group(1), ""), safe=""), template)


class SmsChannel(Channel):
    """An HTTP SMS or WhatsApp gateway driven by a URL template, e.g. https://gw.example/send?to={phone}&text={message}.

    GET calls the filled URL. POST sends the filled query string as a form body to the URL without it.
    The secret goes into the auth header (e.g. `Authorization: Bearer …`) and/or the {token} placeholder.
    """

    name, label = "sms", "SMS / WhatsApp gateway"
    secret_label = "API token"
    bound_to = ("host",)
    METHODS = ("GET", "POST")

    def check_config(self, values: dict) -> dict:
        """URL template, method, auth header name and sender id."""
        url = _http_url(values.get("url") or "", "url", "Gateway URL")
        names = set(_PLACEHOLDER.findall(url))
        unknown = names - set(SMS_PLACEHOLDERS)
        if unknown:
            known = ", ".join("{%s}" % p for p in SMS_PLACEHOLDERS)
            raise ServiceError(f"Unknown placeholder {{{sorted(unknown)[0]}}}; use {known}.", field="url")
        if not {"phone", "message"} <= names:
            raise ServiceError("The URL needs both {phone} and {message}.", field="url")
        method = (values.get("method") or "GET").upper()
        if method not in self.METHODS:
            raise ServiceError("Method must be GET or POST.", field="method")
        header = (values.get("auth_header") or "").strip()
        if header and not re.match(r"^[A-Za-z0-9-]{1,64}$", header):
            raise ServiceError("Auth header: a header name such as Authorization or X-API-Key.", field="auth_header")
        sender = (values.get("sender") or "").strip()
        if len(sender) > 32:
            raise ServiceError("Sender id: at most 32 characters.", field="sender")
        return {"url": url, "method": method, "auth_header": header, "sender": sender,
                "host": urllib.parse.urlsplit(url.replace("{", "").replace("}", "")).netloc.lower()}

    def recipient(self, customer: dict, config: dict) -> str:
        """The customer's phone (or second phone), digits and a leading + only."""
        for raw in (customer.get("phone"), customer.get("phone2")):
            phone = re.sub(r"[\s().-]", "", raw or "")
            if PHONE_RE.match(phone):
                return phone
        return ""

    def check_recipient(self, value: str) -> str:
        """A typed phone number."""
        phone = re.sub(r"[\s().-]", "", value)
        if not PHONE_RE.match(phone):
            raise ServiceError("Type a phone number (digits, optionally a leading +) to send the test to.",
                               field="recipient")
        return phone

    def missing_address(self) -> str:
        """Why a customer was skipped."""
        return "the customer has no phone number"

    def send(self, notification: Notification, config: dict, secret: str) -> None:
        """Call the gateway; a 2xx answer is delivery."""
        values = {"phone": notification.recipient, "message": notification.body, "subject": notification.subject,
                  "sender": config.get("sender", ""), "token": secret}
        url = fill(config["url"], values)
        headers = {"User-Agent": "isp-panel-notifications"}
        if config.get("auth_header") and secret:
            headers[config["auth_header"]] = secret
        if config.get("method") == "POST":
            base, _, query = url.partition("?")
            request = urllib.request.Request(base, data=query.encode("ascii"), method="POST",
                                             headers={**headers, "Content-Type": "application/x-www-form-urlencoded"})
        else:
            request = urllib.request.Request(url, headers=headers, method="GET")
        _http(request, f"gateway {_host(url)}")


TELEGRAM_API = "https://api.telegram.org"
CHAT_RE = re.compile(r"^(-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})$")
BOT_TOKEN_RE = re.compile(r"^[0-9]{1,20}:[A-Za-z0-9_-]{20,200}$")


class TelegramChannel(Channel):
    """A Telegram bot: POST {api_base}/bot<token>/sendMessage with chat_id and text (the token is the secret)."""

    name, label = "telegram", "Telegram"
    secret_label = "Bot token"
    staff_only = True
    bound_to = ("api_base",)  # the token goes into that server's URL: moving it needs the token typed again

    def check_config(self, values: dict) -> dict:
        """The Bot API base URL (default Telegram's) and an optional default chat id."""
        base = _http_url(values.get("api_base") or TELEGRAM_API, "api_base", "Bot API address").rstrip("/")
        chat = (values.get("chat_id") or "").strip()
        if chat and not CHAT_RE.match(chat):
            raise ServiceError("Default chat: a numeric chat id (groups start with -) or @channelname.", field="chat_id")
        return {"api_base": base, "chat_id": chat}

    def check_secret(self, secret: str) -> str:
        """A bot token as @BotFather gives it: digits, a colon, then letters, digits, _ and - (nothing else)."""
        token = secret.strip()
        if not BOT_TOKEN_RE.match(token):
            raise ServiceError("Bot token: paste it as @BotFather gives it, e.g. 123456789:AAF… "
                               "(digits, a colon, then letters, digits, _ or -; no spaces).", field="secret")
        return token

    def recipient(self, customer: dict, config: dict) -> str:
        """The default chat (customers have no Telegram address)."""
        return config.get("chat_id") or ""

    def check_recipient(self, value: str) -> str:
        """A typed chat id or @channel; blank: the default chat."""
        chat = value.strip()
        if chat and not CHAT_RE.match(chat):
            raise ServiceError("Type a Telegram chat id (e.g. 123456789 or -1001234567890) or @channelname.",
                               field="recipient")
        return chat

    def missing_address(self) -> str:
        """Why a message was skipped."""
        return "no Telegram chat id"

    def send(self, notification: Notification, config: dict, secret: str) -> None:
        """POST the message; a 2xx answer is delivery. The token is in the URL path, so the URL is never logged."""
        if not secret:
            raise DeliveryError("no bot token saved")
        text = notification.body or notification.subject
        if notification.subject and not text.startswith(notification.subject):
            text = f"{notification.subject}\n{text}"
        body = json.dumps({"chat_id": notification.recipient, "text": text[:4096],
                           "disable_web_page_preview": True}).encode("utf-8")
        base = (config.get("api_base") or TELEGRAM_API).rstrip("/")
        token = urllib.parse.quote(secret, safe=":")  # a token saved before the check cannot break the URL
        request = urllib.request.Request(f"{base}/bot{token}/sendMessage", data=body, method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "User-Agent": "isp-panel-notifications"})
        _http(request, f"Telegram {_host(base)}")


CHANNELS: dict[str, Channel] = {c.name: c for c in (EmailChannel(), SmsChannel(), WebhookChannel(), TelegramChannel())}


def mask(recipient: str, channel: str) -> str:
    """A recipient partly hidden for lists: 'ja•••@example.com', '+254•••••123', the webhook's host."""
    value = recipient or ""
    if channel == "webhook":
        parts = urllib.parse.urlsplit(value)
        return f"{parts.scheme}://{parts.hostname}" if parts.hostname else ""
    if "@" in value:
        local, _, domain = value.rpartition("@")
        return f"{local[:2] if len(local) > 3 else local[:1]}•••@{domain}"
    if len(value) > 7:
        return value[:4] + "•" * (len(value) - 7) + value[-3:]
    return value[:1] + "•" * max(0, len(value) - 1)
