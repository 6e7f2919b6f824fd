"""The text of customer messages: built-in defaults, the variables a template sees, and sandboxed rendering.

Templates are edited by admins and rendered by the notification outbox. They run in Jinja's immutable
sandbox with StrictUndefined (a typo or an unsafe attribute such as `''.__class__` is an error, not
silence), see only plain strings and numbers (never a model object), and HTML email bodies are
autoescaped while SMS and webhook text is not (that text is never put into a page without escaping).
"""
from __future__ import annotations

import operator
import re
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from isp.units import with_currency

EVENTS = {"reminder": "Renewal reminder", "suspended": "Service suspended", "payment": "Payment received",
          "welcome": "Welcome"}
# Staff messages about alerts (customer_id NULL, alert_id set): see alert_notify.
ALERT_EVENTS = {"alert_opened": "Alert raised", "alert_critical": "Alert became critical",
                "alert_escalated": "Alert escalated", "alert_resolved": "Alert resolved"}
ALL_EVENTS = {**EVENTS, **ALERT_EVENTS}
TEST_EVENT = "test"  # a message an admin sends from Settings to check a channel (no customer, one attempt)
MAX_SUBJECT = 200
MAX_BODY = 10_000  # characters: fits a TEXT column in utf8mb4, and no SMS gateway takes more
MAX_SOURCE = 10_000
_WIDE = re.compile(r"%[-+ #0]*(\d{4,}|\*)|%[-+ #0]*\d*\.\d{4,}")


class TemplateProblem(Exception):
    """A template that cannot be rendered; the message says where and why."""


def _refuse_wide(fmt: object) -> None:
    if isinstance(fmt, str) and _WIDE.search(fmt):
        raise SecurityError("format widths above 999 are not allowed")


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with the operators that can build huge values from a tiny template capped."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context: Context, op: str, left: Any, right: Any) -> Any:
        """Refuse repetition or powers that would make a huge value; format widths stay small."""
        if op == "*" and (isinstance(left, str | list | tuple) or isinstance(right, str | list | tuple)):
            count = right if isinstance(left, str | list | tuple) else left
            if isinstance(count, int) and count > 1000:
                raise SecurityError("repeating a value more than 1000 times is not allowed")
        if op == "**" and isinstance(right, int | float) and abs(right) > 100:
            raise SecurityError("powers above 100 are not allowed")
        if op == "%":
            _refuse_wide(left)
        return {"*": operator.mul, "**": operator.pow, "%": operator.mod}[op](left, right)


def _format(value: object, *args: object, **kwargs: object) -> str:
    _refuse_wide(value)
    return str(value) % (kwargs or args)


def _environment(autoescape: bool) -> _Sandbox:
    env = _Sandbox(autoescape=autoescape, undefined=StrictUndefined, keep_trailing_newline=False, auto_reload=False)
    for name in ("center", "indent", "wordwrap"):  # widths from the template: nothing a message needs
        env.filters.pop(name, None)
    env.filters["format"] = _format
    for name in ("lipsum", "cycler", "joiner"):  # lipsum(n) builds n paragraphs; none of them belongs in a message
        env.globals.pop(name, None)
    return env


_ENVS: dict[bool, _Sandbox] = {}


def environment(html: bool) -> _Sandbox:
    """The sandbox for HTML bodies (autoescape on) or plain text (off); built on first use."""
    if html not in _ENVS:
        _ENVS[html] = _environment(html)
    return _ENVS[html]


def _describe(err: Exception) -> str:
    if isinstance(err, TemplateSyntaxError):
        return f"line {err.lineno}: {err.message}"
    if isinstance(err, SecurityError):
        return f"not allowed: {err}"
    return str(getattr(err, "message", None) or err) or type(err).__name__


def render_one(source: str, variables: dict, html: bool, label: str, limit: int) -> str:
    """Render one template in the sandbox; TemplateProblem('Body: line 2: …') when it cannot be."""
    if len(source) > MAX_SOURCE:
        raise TemplateProblem(f"{label}: at most {MAX_SOURCE:,} characters.")
    try:
        text = environment(html).from_string(source).render(variables)
    except (TemplateError, SecurityError, ArithmeticError, TypeError, ValueError, KeyError, IndexError,
            AttributeError, OverflowError, RecursionError, MemoryError) as err:
        raise TemplateProblem(f"{label}: {_describe(err)}") from None
    if len(text) > limit:
        raise TemplateProblem(f"{label}: the message is longer than {limit:,} characters.")
    return text


def render(channel_html: bool, subject: str, body: str, variables: dict) -> tuple[str, str]:
    """(subject, body) of one message; the subject is plain text on one line, the body HTML or text."""
    rendered_subject = " ".join(render_one(subject, variables, False, "Subject", MAX_SUBJECT * 4).split())
    return rendered_subject[:MAX_SUBJECT], render_one(body, variables, channel_html, "Body", MAX_BODY).strip()


def money(value: Decimal | int | str | None, currency: str) -> str:
    """'KES 1,250.00', '-$48.00': how money reads in a message."""
    if value is None or value == "":
        return ""
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    return ("-" if amount < 0 else "") + with_currency(f"{abs(amount):,.2f}", currency)


def local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC time in the operator's timezone."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(current_app.config["ISP_TIMEZONE"])).strftime(fmt)


def _plain(value: object) -> bool:
    return isinstance(value, str | int | float | Decimal | bool) or value is None


def variables(business_name: str, currency: str, customer: dict, service: dict, context: dict) -> dict:
    """What a template sees: customer, service, amount, balance, currency, business_name, days, reference, extras.

    Money values are formatted with the currency; other extra context passes through only when it is a plain
    string or number (never an object a template could walk through).
    """
    values: dict[str, Any] = {"business_name": business_name, "currency": currency, "customer": customer,
                              "service": service, "amount": "", "balance": "", "days": "", "reference": ""}
    for key, value in context.items():
        if key in ("amount", "balance"):
            values[key] = money(value, currency)
        elif key not in ("customer", "service") and _plain(value):
            values[key] = "" if value is None else value
    return values


def sample_variables(business_name: str = "Acme Internet", currency: str = "KES") -> dict:
    """Made-up values to check and preview a template with (a name with markup shows the escaping)."""
    customer = {"name": "Jane <b>Doe</b>", "account_no": "ISP-000123", "phone": "+254700000123",
                "email": "jane@example.com"}
    service = {"username": "jane.doe", "plan": "Home 10M", "kind": "PPPoE", "price": money(Decimal("2500"), currency),
               "paid_until": "2030-01-31 23:59", "paid_until_date": "2030-01-31"}
    return variables(business_name or "Acme Internet", currency, customer, service,
                     {"amount": Decimal("2500"), "balance": Decimal("-150"), "days": 3, "reference": "QK7X2B9"})


def alert_variables(business_name: str, alert: dict) -> dict:
    """What an alert template sees: alert.* (plain values only) and business_name."""
    return {"business_name": business_name, "alert": {k: v for k, v in alert.items() if _plain(v)}}


def sample_alert_variables(business_name: str = "Acme Internet") -> dict:
    """A made-up alert to check and preview an alert template with."""
    return alert_variables(business_name or "Acme Internet", {
        "id": 42, "rule": "CPU load", "kind": "metric", "severity": "critical", "state": "open", "stage": "opened",
        "message": "cpu 93 on <b>core-1</b> (critical at 90)", "value": 93, "target": "", "router": "core-1",
        "site": "Hilltop", "started_at": "2030-01-31 10:02", "opened_at": "2030-01-31 10:03", "resolved_at": "",
        "link": "https://isp.example/alerts/42"})


ALERT_VARIABLE_HELP = ("alert.rule", "alert.severity", "alert.message", "alert.value", "alert.router", "alert.site",
                       "alert.target", "alert.kind", "alert.state", "alert.started_at", "alert.opened_at",
                       "alert.resolved_at", "alert.link", "alert.id", "business_name")

VARIABLE_HELP = ("customer.name", "customer.account_no", "customer.phone", "customer.email", "service.username",
                 "service.plan", "service.kind", "service.price", "service.paid_until", "service.paid_until_date",
                 "amount", "balance", "currency", "days", "reference", "business_name")

_EMAIL = {
    "reminder": ("Your {{ service.plan }} service renews on {{ service.paid_until_date }}",
                 "<p>Hello {{ customer.name }},</p>\n<p>Your {{ service.plan }} service <b>{{ service.username }}</b> is paid "
                 "until {{ service.paid_until }} ({{ days }} day{{ '' if days == 1 else 's' }} from now). The renewal "
                 "costs {{ amount }}; your balance is {{ balance }}.</p>\n<p>Account {{ customer.account_no }}<br>"
                 "{{ business_name }}</p>"),
    "suspended": ("Your {{ service.plan }} service is suspended",
                  "<p>Hello {{ customer.name }},</p>\n<p>Your service <b>{{ service.username }}</b> was suspended "
                  "because it is unpaid. Your balance is {{ balance }}; a payment of {{ service.price }} brings it back "
                  "within a minute.</p>\n<p>Account {{ customer.account_no }}<br>{{ business_name }}</p>"),
    "payment": ("Payment received: {{ amount }}",
                "<p>Hello {{ customer.name }},</p>\n<p>We received your payment of {{ amount }} (reference "
                "{{ reference }}). Your balance is now {{ balance }}.</p>\n<p>Account {{ customer.account_no }}<br>"
                "{{ business_name }}</p>"),
    "welcome": ("Welcome to {{ business_name }}",
                "<p>Hello {{ customer.name }},</p>\n<p>Welcome! Your account number is {{ customer.account_no }}."
                "</p>\n<p>{{ business_name }}</p>"),
}
_TEXT = {
    "reminder": ("Renewal reminder",
                 "{{ business_name }}: {{ service.username }} is paid until {{ service.paid_until }} ({{ days }} d). "
                 "Renewal {{ amount }}, balance {{ balance }}. Acc {{ customer.account_no }}"),
    "suspended": ("Service suspended",
                  "{{ business_name }}: {{ service.username }} is suspended (unpaid). Balance {{ balance }}. "
                  "Pay {{ service.price }} to reconnect. Acc {{ customer.account_no }}"),
    "payment": ("Payment received",
                "{{ business_name }}: payment of {{ amount }} received (ref {{ reference }}). "
                "Balance {{ balance }}. Acc {{ customer.account_no }}"),
    "welcome": ("Welcome",
                "Welcome to {{ business_name }}, {{ customer.name }}! Your account number is {{ customer.account_no }}."),
}


_ALERT_SUBJECT = {
    "alert_opened": "[{{ alert.severity|upper }}] {{ alert.rule }}{% if alert.router %} on {{ alert.router }}{% endif %}",
    "alert_critical": "[CRITICAL] {{ alert.rule }}{% if alert.router %} on {{ alert.router }}{% endif %}",
    "alert_escalated": "[ESCALATED] {{ alert.rule }}{% if alert.router %} on {{ alert.router }}{% endif %}",
    "alert_resolved": "[RESOLVED] {{ alert.rule }}{% if alert.router %} on {{ alert.router }}{% endif %}",
}
_ALERT_LINE = {
    "alert_opened": "raised at {{ alert.opened_at }}",
    "alert_critical": "is now critical",
    "alert_escalated": "is still unacknowledged (open since {{ alert.opened_at }})",
    "alert_resolved": "resolved at {{ alert.resolved_at }}",
}


def _alert_default(event: str, html: bool) -> tuple[str, str]:
    subject, line = _ALERT_SUBJECT[event], _ALERT_LINE[event]
    if html:
        return subject, ("<p><b>{{ alert.rule }}</b>{% if alert.router %} on {{ alert.router }}{% endif %}"
                         "{% if alert.target %} ({{ alert.target }}){% endif %} " + line + ".</p>\n"
                         "<p>{{ alert.message }}</p>\n<p>Severity: {{ alert.severity }}"
                         "{% if alert.site %} · site {{ alert.site }}{% endif %}</p>\n"
                         "{% if alert.link %}<p><a href=\"{{ alert.link }}\">{{ alert.link }}</a></p>\n{% endif %}"
                         "<p>{{ business_name }}</p>")
    return subject, (subject + " " + line + ": {{ alert.message }}{% if alert.link %} {{ alert.link }}{% endif %}")


def default(event: str, html: bool) -> tuple[str, str]:
    """The built-in (subject, body) of an event, HTML for email, text otherwise."""
    if event in ALERT_EVENTS:
        return _alert_default(event, html)
    return (_EMAIL if html else _TEXT)[event]
