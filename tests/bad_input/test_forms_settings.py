"""Bad input on Settings (branding, logo, billing numbering, hub), notification channels and templates, alert rules
and maintenance windows."""
from __future__ import annotations

import io

import pytest

from tests.bad_input.conftest import LONG, NUL, SCRIPT

# -- branding and logo ---------------------------------------------------------------------------------------

GOOD_BRANDING = {"business_name": "Acme ISP", "currency": "KES", "expiry_action": "remove"}
BRANDING = [
    ("name 10k", {"business_name": LONG}, "Field cannot be longer than 120 characters"),
    ("name nul", {"business_name": NUL}, "control characters"),
    ("currency 9 chars", {"currency": "SHILLINGS"}, "Currency: at most 8 characters"),
    ("bad expiry action", {"expiry_action": "explode"}, "Not a valid choice"),
    ("dns with scheme", {"dns_{router}": "http://wifi.example.net/login"}, "give only the host name"),
    ("dns with spaces", {"dns_{router}": "wifi example net"}, "is not a host name"),
    ("dns script", {"dns_{router}": SCRIPT}, "give only the host name"),
]


@pytest.mark.parametrize("fields,message", [c[1:] for c in BRANDING], ids=[c[0] for c in BRANDING])
def test_branding(world, fields, message):
    """Refused branding leaves every setting and the routers' hotspot names as they were."""
    data = {k.replace("{router}", str(world.router.id)): v for k, v in {**GOOD_BRANDING, **fields}.items()}
    world.bad.post("/settings/", data, message)


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(1)</script></svg>'
LOGOS = [
    ("svg", "logo.svg", SVG, "SVG is not accepted"),
    ("svg named png", "logo.png", SVG, "must be a PNG, JPEG, GIF or WebP"),
    ("html", "logo.png", b"<html><script>alert(1)</script></html>", "must be a PNG, JPEG, GIF or WebP"),
    ("empty-ish", "logo.png", b"\x89PNG", "must be a PNG, JPEG, GIF or WebP"),
    ("too big", "logo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * (600 * 1024), "larger than the limit"),
]


@pytest.mark.parametrize("name,content,message", [c[1:] for c in LOGOS], ids=[c[0] for c in LOGOS])
def test_logo(world, name, content, message):
    """A logo that is not a raster image (or too big) is refused and the stored logo is kept."""
    world.bad.post("/settings/", {**GOOD_BRANDING, "logo": (io.BytesIO(content), name)}, message,
                   content_type="multipart/form-data")


GOOD_BILLING = {"account_prefix": "ISP-", "account_digits": "6", "invoice_prefix": "INV-", "receipt_prefix": "RCT-",
                "default_grace_days": "3", "suspend_mode": "disable", "reminder_days": "3,1",
                "agent_commission_percent": "0", "radius_suspend_action": "reject", "radius_plan_change_action": "coa"}
BILLING = [
    ("prefix spaces", {"invoice_prefix": "IN V"}, "Invoice prefix: up to 16 letters"),
    ("prefix script", {"account_prefix": "<b>"}, "Account prefix: up to 16 letters"),
    ("prefix too long", {"receipt_prefix": "R" * 17}, "Field cannot be longer than 16 characters"),
    ("same prefixes", {"receipt_prefix": "INV-"}, "Give receipts a prefix of their own"),
    ("digits 2", {"account_digits": "2"}, "Account digits: a whole number from 3 to 12"),
    ("digits text", {"account_digits": "six"}, "Account digits: a whole number from 3 to 12"),
    ("grace negative", {"default_grace_days": "-1"}, "Grace days: a whole number from 0 to 90"),
    ("grace unicode", {"default_grace_days": "٣"}, "Grace days: a whole number from 0 to 90"),
    ("reminders 91", {"reminder_days": "91"}, "Reminder days: whole days from 0 to 90"),
    ("reminders words", {"reminder_days": "three,one"}, "Reminder days: whole days from 0 to 90"),
    ("reminders too many", {"reminder_days": "1,2,3,4,5,6,7"}, "at most 6"),
    ("reminders negative", {"reminder_days": "-3"}, "Reminder days: whole days from 0 to 90"),
    ("commission 101", {"agent_commission_percent": "101"}, "Agent commission: a percentage from 0 to 100"),
    ("commission NaN", {"agent_commission_percent": "NaN"}, "Agent commission: a percentage from 0 to 100"),
    ("suspend mode bad", {"suspend_mode": "delete"}, "Not a valid choice"),
    ("radius action bad", {"radius_suspend_action": "drop"}, "Not a valid choice"),
]


@pytest.mark.parametrize("fields,message", [c[1:] for c in BILLING], ids=[c[0] for c in BILLING])
def test_billing_settings(world, fields, message):
    """Refused numbering or reminder settings are not stored."""
    world.bad.post("/settings/billing", {**GOOD_BILLING, **fields}, message)


# -- notification channels -----------------------------------------------------------------------------------

CHANNELS = [
    ("email", "smtp host with scheme", {"security": "starttls", "host": "smtp://mail.example.com", "port": "587"},
     "Give the SMTP server's host name"),
    ("email", "smtp host blank", {"security": "starttls", "host": "", "port": "587"}, "Give the SMTP server's host name"),
    ("email", "smtp port 0", {"security": "starttls", "host": "smtp.example.com", "port": "0"}, "Port must be between"),
    ("email", "smtp port 99999", {"security": "starttls", "host": "smtp.example.com", "port": "99999"}, "Port must be between 1 and 65535"),
    ("email", "smtp port 6 digits", {"security": "starttls", "host": "smtp.example.com", "port": "100000"},
     "Field cannot be longer than 5"),
    ("email", "smtp port text", {"security": "starttls", "host": "smtp.example.com", "port": "abc"}, "Port must be a whole number"),
    ("email", "smtp bad security", {"host": "smtp.example.com", "port": "587", "security": "ssl3"}, "Not a valid choice"),
    ("email", "sender header injection", {"security": "starttls", "host": "smtp.example.com", "port": "587",
                                          "sender": "a@b.com\r\nBcc: x@evil.com"}, "From must be an address"),
    ("webhook", "webhook ftp url", {"url": "ftp://hooks.example.com/x", "secret": "s3cret"}, "must be an http"),
    ("webhook", "webhook javascript url", {"url": "javascript:alert(1)", "secret": "s3cret"}, "must be an http"),
    ("webhook", "webhook file url", {"url": "file:///etc/passwd", "secret": "s3cret"}, "must be an http"),
    ("webhook", "webhook no secret", {"url": "https://hooks.example.com/x"}, "needs a signing secret"),
    ("webhook", "webhook url 10k", {"url": "https://x.example/" + LONG, "secret": "s"}, "Field cannot be longer than 500"),
    ("sms", "sms url without placeholders", {"url": "https://gw.example/send", "method": "GET"},
     "needs both {phone} and {message}"),
    ("sms", "sms unknown placeholder", {"url": "https://gw.example/send?to={phone}&t={message}&x={secret}",
                                        "method": "GET"}, "Unknown placeholder"),
    ("sms", "sms bad method", {"url": "https://gw.example/s?to={phone}&t={message}", "method": "DELETE"},
     "Not a valid choice"),
    ("telegram", "telegram bad chat", {"api_base": "https://api.telegram.org", "chat_id": "not a chat",
                                       "secret": "123456789:AAF-token_value-abcdefghijklmnopqrstu"}, "Default chat"),
    ("nosuch", "unknown channel", {}, "The request could not be understood"),
]


@pytest.mark.parametrize("channel,fields,message", [(c[0],) + c[2:] for c in CHANNELS], ids=[c[1] for c in CHANNELS])
def test_channel_settings(world, channel, fields, message):
    """Refused channel settings store nothing (and never echo a secret)."""
    data = {"channel": channel, f"{channel}-enabled": "y", **{f"{channel}-{k}": v for k, v in fields.items()}}
    response = world.bad.post("/notifications/settings/channel", data, message, status=(400, 404, 422))
    assert "s3cret" not in response.get_data(as_text=True)


TEMPLATES = [
    ("syntax error", "{{ customer.name ", "body"),
    ("unknown variable", "{{ nosuch }}", "body"),
    ("class escape", "{{ ''.__class__ }}", "body"),
    ("mro escape", "{{ ''.__class__.__mro__[1].__subclasses__() }}", "body"),
    ("globals escape", "{{ self.__init__.__globals__ }}", "body"),
    ("cycler escape", "{{ cycler.__init__.__globals__.os }}", "body"),
    ("huge repeat", "{{ 'x' * 100000000 }}", "more than 1000 times"),
    ("huge power", "{{ 9 ** 99999999 }}", "powers above 100"),
    ("huge format width", "{{ '%999999999d' % 1 }}", "body"),
    ("body 10k over", "x" * 20_001, "at most"),
    ("unclosed block", "{% if customer %}hello", "body"),
]


@pytest.mark.parametrize("body,message", [c[1:] for c in TEMPLATES], ids=[c[0] for c in TEMPLATES])
def test_template(world, body, message):
    """A template that does not render in the sandbox is refused with the reason; nothing is stored."""
    response = world.bad.post("/notifications/templates", {"event": "reminder", "channel": "email",
                                                           "subject": "Reminder", "body": body, "enabled": "y"},
                              message)
    assert "<class 'str'>" not in response.get_data(as_text=True)  # the escape never rendered


@pytest.mark.parametrize("subject", ["{{ ''.__class__.__base__ }}", "{{ unclosed"], ids=["escape", "syntax"])
def test_template_subject(world, subject):
    """A bad subject is refused the same way."""
    world.bad.post("/notifications/templates", {"event": "reminder", "channel": "email", "subject": subject,
                                               "body": "Hello", "enabled": "y"}, "Subject")


@pytest.mark.parametrize("event,channel", [("nosuch", "email"), ("reminder", "carrier-pigeon"), ("reminder", "telegram")],
                         ids=["unknown event", "unknown channel", "customer event on a staff channel"])
def test_template_unknown_pair(world, event, channel):
    """A template for an event or channel that does not exist is refused (never a KeyError)."""
    world.bad.post("/notifications/templates", {"event": event, "channel": channel, "subject": "s", "body": "b"},
                   "There is nothing here", status=404)


def test_send_test_unknown_channel(world):
    """A test message on a channel that does not exist is refused and queues nothing."""
    world.bad.post("/notifications/settings/test", {"channel": "pigeon", "recipient": "x"}, "Not a valid choice")


# -- alert rules and maintenance windows ---------------------------------------------------------------------

GOOD_RULE = {"name": "Hot CPU", "metric": "cpu", "warning": "80", "critical": "95", "hysteresis": "5",
             "for_seconds": "60", "scope": "all", "site": "", "router_id": "", "escalate_after_minutes": "",
             "notify_recovery": "y", "enabled": "y"}
RULES = [
    ("metric", "blank name", {"name": ""}, "Give the rule a name"),
    ("metric", "name 10k", {"name": LONG}, "Name: at most 120 characters"),
    ("metric", "duplicate name", {"name": "{existing}"}, "Another rule already has this name"),
    ("metric", "unknown metric", {"metric": "karma"}, "Choose the metric to watch"),
    ("metric", "threshold text", {"warning": "hot"}, "is not a number"),
    ("metric", "threshold NaN", {"warning": "nan"}, "not a number"),
    ("metric", "threshold inf", {"warning": "inf"}, "not a number"),
    ("metric", "threshold 1e309", {"critical": "1e309"}, "not a number"),
    ("metric", "cpu 150 percent", {"warning": "150", "critical": "160"}, "at most 100"),
    ("metric", "critical below warning", {"warning": "90", "critical": "50"}, "Critical must be at or above"),
    ("metric", "no thresholds", {"warning": "", "critical": ""}, "Give a warning or a critical threshold"),
    ("metric", "hysteresis too big", {"hysteresis": "90"}, "Hysteresis must be smaller"),
    ("metric", "for negative", {"for_seconds": "-5"}, "at least 0"),
    ("metric", "bad scope", {"scope": "galaxy"}, "Scope: all routers, a site or one router"),
    ("metric", "unknown router", {"scope": "router", "router_id": "999999"}, "Choose the router"),
    ("metric", "unknown site", {"scope": "site", "site": "Mars"}, "Choose one of the routers' sites"),
    ("metric", "unknown channel", {"channels": "pigeon"}, "Unknown channel"),
    ("metric", "escalate text", {"escalate_after_minutes": "soon"}, "Escalate after: 'soon' is not a number"),
    ("metric", "escalate fraction", {"escalate_after_minutes": "1.5"},
     "Escalate after: whole minutes"),
    ("offline", "offline 1 second", {"seconds": "1"}, "Offline after: at least 10"),
    ("link_flap", "flap count 1", {"count": "1", "window": "600"}, "Link downs: at least 2"),
    ("traffic_spike", "spike min rate words", {"warning": "3", "min_bps": "lots"}, "is not a rate"),
    ("traffic_spike", "spike factor 1", {"warning": "1", "min_bps": "1M"}, "A spike factor must be above 1"),
]


@pytest.fixture(scope="module")
def existing_rule(world):
    """A stored rule whose name a new one may not take."""
    from isp.extensions import db
    from isp.models import AlertKind, User
    from isp.services import alert_rules

    with world.bad.app.app_context():
        alert_rules.save_rule(db.session.get(User, world.admin.id), None, AlertKind.offline,
                              {"name": "Router down", "seconds": "60", "scope": "all", "enabled": True})
        db.session.commit()
    return "Router down"


@pytest.mark.parametrize("kind,fields,message", [(c[0],) + c[2:] for c in RULES], ids=[c[1] for c in RULES])
def test_alert_rule(world, existing_rule, kind, fields, message):
    """A refused alert rule is not stored."""
    data = {k: v.replace("{existing}", existing_rule) for k, v in {**GOOD_RULE, **fields}.items()}
    world.bad.post(f"/alerts/rules/new?kind={kind}", data, message)


WINDOWS = [
    ("end before start", {"starts": "2099-01-02T10:00", "ends": "2099-01-02T09:00"}, "Ends must be after it starts"),
    ("end in the past", {"starts": "2001-01-01T10:00", "ends": "2001-01-01T12:00"}, "Ends is already past"),
    ("too long", {"starts": "2099-01-01T10:00", "ends": "2099-12-31T10:00"}, "days; add another window"),
    ("not a date", {"starts": "tomorrow", "ends": "2099-01-02T09:00"}, "a date and time such as"),
    ("year 10000", {"starts": "2099-01-01T10:00", "ends": "10000-01-01T10:00"}, "a date and time such as"),
    ("feb 30", {"starts": "2099-02-30T10:00", "ends": "2099-03-02T10:00"}, "a date and time such as"),
    ("no reason", {"reason": ""}, "Say why"),
    ("reason 10k", {"reason": LONG}, "Reason: at most 255 characters"),
    ("unknown router", {"router_id": "999999"}, "Choose the router"),
    ("bad target", {"target": "planet"}, "A window silences a router or a site"),
    ("unknown site", {"target": "site", "site": "Atlantis"}, "Choose one of the routers' sites"),
]


@pytest.mark.parametrize("fields,message", [c[1:] for c in WINDOWS], ids=[c[0] for c in WINDOWS])
def test_maintenance_window(world, fields, message):
    """A refused maintenance window is not stored."""
    data = {"target": "router", "router_id": str(world.router.id), "site": "", "starts": "2099-01-01T10:00",
            "ends": "2099-01-01T12:00", "reason": "Uplink radio swap", **fields}
    world.bad.post("/alerts/maintenance", data, message)
