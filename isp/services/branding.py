"""The operator's branding and voucher policy (one settings row), and each router's hotspot DNS name."""
from __future__ import annotations

import hashlib
import ipaddress
import re
from decimal import Decimal

from sqlalchemy import insert, select

from isp.extensions import db
from isp.models import Branding, Router, User
from isp.services import audit
from isp.services.errors import ServiceError
from isp.services.routers import HOST_RE

EXPIRY_ACTIONS = ("remove", "disable")
LOGO_MAX_BYTES = 512 * 1024
# Raster formats only, recognised by their first bytes: an SVG "logo" could carry script.
_LOGO_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
               (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"))
LOGO_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BRANDING_FIELDS = ("business_name", "currency", "expiry_action")


def get() -> Branding:
    """The settings row, created with defaults on first use.

    Until a first commit keeps it, concurrent requests each try to create it: the insert ignores a row that is
    already there (INSERT OR IGNORE / INSERT IGNORE), so the loser reads the winner's row instead of answering 500.
    No savepoint: on SQLite one opened before anything else was written would commit the whole unit when released.
    """
    branding = db.session.get(Branding, 1)
    if branding is None:
        db.session.execute(insert(Branding).values(id=1, business_name="", currency="", expiry_action="remove",
                                                    logo_mime="")
                           .prefix_with("OR IGNORE", dialect="sqlite").prefix_with("IGNORE", dialect="mysql"))
        branding = db.session.get(Branding, 1)
    return branding


def logo_type(data: bytes) -> str | None:
    """The image MIME type of a PNG, JPEG, GIF or WebP file by its magic bytes; None for anything else."""
    for magic, mime in _LOGO_MAGIC:
        if data.startswith(magic):
            return mime
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def logo_version(branding: Branding) -> str:
    """A short content hash of the logo, for its ETag and to bust caches when it changes."""
    return hashlib.sha256(branding.logo or b"").hexdigest()[:16]


def check_host(value: str | None, field: str = "hotspot_dns") -> str:
    """A hotspot DNS name or IP address as a phone would type it; '' stays blank."""
    host = (value or "").strip().lower().rstrip(".")
    if not host:
        return ""
    if "/" in host or (":" in host and not _is_ip(host)):
        raise ServiceError(f"'{value.strip()}': give only the host name, such as wifi.example.net, "
                           "without http:// or a path.", field=field)
    if _is_ip(host):
        return host
    if not HOST_RE.match(host) or host.replace(".", "").isdigit():
        raise ServiceError(f"'{value.strip()}' is not a host name or IP address (letters, digits, dots and dashes, "
                           "such as wifi.example.net or 10.5.50.1).", field=field)
    return host


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _text(value: str | None, limit: int, field: str, label: str) -> str:
    text = (value or "").strip()
    if _CONTROL.search(text):
        raise ServiceError(f"{label} cannot contain control characters.", field=field)
    if len(text) > limit:
        raise ServiceError(f"{label}: at most {limit} characters.", field=field)
    return text


def save(actor: User, values: dict, logo: bytes | None = None, remove_logo: bool = False,
         hotspot_dns: dict[int, str] | None = None) -> Branding:
    """Apply the settings page: name, currency, expiry action, logo and hotspot DNS names; audited."""
    branding = get()
    name = _text(values.get("business_name"), 120, "business_name", "Business name")
    currency = _text(values.get("currency"), 8, "currency", "Currency")
    action = values.get("expiry_action") or "remove"
    if action not in EXPIRY_ACTIONS:
        raise ServiceError("Expiry action must be 'remove' or 'disable'.", field="expiry_action")
    changed = [label for label, old, new in (("business name", branding.business_name, name),
                                             ("currency", branding.currency, currency),
                                             ("expiry action", branding.expiry_action, action)) if old != new]
    before = audit.snapshot(branding, _BRANDING_FIELDS)
    branding.business_name, branding.currency, branding.expiry_action = name, currency, action
    if changed:
        audit.record(actor, "settings.update", "branding", "changed " + ", ".join(changed), obj=branding,
                     changes=audit.diff(before, audit.snapshot(branding, _BRANDING_FIELDS)))
    if logo:
        set_logo(actor, logo)
    elif remove_logo and branding.logo:
        audit.record(actor, "settings.logo_remove", "branding", obj=branding,
                     changes={"logo": [f"{branding.logo_mime}, {len(branding.logo):,} bytes", None]})
        branding.logo, branding.logo_mime = None, ""
    set_hotspot_dns(actor, hotspot_dns or {})
    db.session.flush()
    return branding


def check_logo(data: bytes) -> str:
    """The MIME type of an acceptable logo; refuses files over the size limit and anything but raster images."""
    if len(data) > LOGO_MAX_BYTES:
        raise ServiceError(f"The logo is larger than the limit of {LOGO_MAX_BYTES // 1024} KB. "
                           "Export a smaller image (about 400 px wide is plenty).", field="logo")
    mime = logo_type(data)
    if mime is None:
        raise ServiceError("The logo must be a PNG, JPEG, GIF or WebP image (SVG is not accepted).", field="logo")
    return mime


def set_logo(actor: User, data: bytes) -> Branding:
    """Store a new logo after checking its size and that it really is a PNG, JPEG, GIF or WebP image."""
    mime = check_logo(data)
    branding = get()
    old = f"{branding.logo_mime}, {len(branding.logo):,} bytes" if branding.logo else None
    branding.logo, branding.logo_mime = data, mime
    db.session.flush()
    audit.record(actor, "settings.logo", "branding", f"{mime}, {len(data):,} bytes", obj=branding,
                 changes={"logo": [old, f"{mime}, {len(data):,} bytes"]})
    return branding


def set_hotspot_dns(actor: User, values: dict[int, str]) -> list[Router]:
    """Set each router's hotspot DNS name (blank clears it); returns the routers that changed."""
    if not values:
        return []
    routers = db.session.scalars(select(Router).where(Router.id.in_(list(values))).order_by(Router.name)).all()
    changed = []
    for router in routers:
        host = check_host(values[router.id], field=f"dns_{router.id}")
        if host != router.hotspot_dns:
            audit.record(actor, "router.hotspot_dns", router.name, f"'{router.hotspot_dns}' → '{host}'", obj=router,
                         changes={"hotspot_dns": [router.hotspot_dns, host]})
            router.hotspot_dns = host
            changed.append(router)
    db.session.flush()
    return changed


def routers() -> list[Router]:
    """Every router, by name, for the hotspot DNS section."""
    return list(db.session.scalars(select(Router).order_by(Router.name)))


# -- billing settings -----------------------------------------------------------------------------------------------

SUSPEND_MODES = ("disable", "restrict")
RADIUS_SUSPEND_ACTIONS = ("reject", "walled-garden")  # isp.radius.writers.SUSPEND_ACTIONS
RADIUS_PLAN_CHANGE_ACTIONS = ("coa", "disconnect")
_PREFIX = re.compile(r"[A-Za-z0-9/._-]{0,16}\Z")
MAX_REMINDERS = 6


def _prefix(value: str | None, field: str, label: str) -> str:
    text = (value or "").strip()
    if not _PREFIX.match(text):
        raise ServiceError(f"{label}: up to 16 letters, digits, dashes, dots, slashes or underscores (e.g. INV-).", field=field)
    return text


def _whole(value: object, field: str, label: str, low: int, high: int) -> int:
    raw = str(value if value is not None else "").strip()
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise ServiceError(f"{label}: a whole number from {low} to {high}.", field=field)
    return int(raw)


def reminder_days(value: str | None) -> str:
    """'3, 1' → '3,1': whole days before paid_until (0 to 90), largest first, at most six; '' for none."""
    parts = [p.strip() for p in (value or "").replace(";", ",").split(",") if p.strip()]
    if any(not (p.isascii() and p.isdigit()) or int(p) > 90 for p in parts) or len(set(parts)) > MAX_REMINDERS:
        raise ServiceError(f"Reminder days: whole days from 0 to 90 separated by commas, e.g. 3,1 (at most {MAX_REMINDERS}).",
                           field="reminder_days")
    return ",".join(str(d) for d in sorted({int(p) for p in parts}, reverse=True))


def _percent(value: object) -> Decimal:
    from isp.services.ledger import parse_money

    try:
        rate = parse_money(str(value or "0").strip().rstrip("%"), "agent_commission_percent", allow_zero=True)
    except ServiceError:
        rate = Decimal(-1)
    if not 0 <= rate <= 100:
        raise ServiceError("Agent commission: a percentage from 0 to 100, at most two decimals (e.g. 7.5).",
                           field="agent_commission_percent")
    return rate


def check_billing(values: dict) -> dict:
    """The billing settings as stored, each checked; a ServiceError names the first bad field."""
    out = {"account_prefix": _prefix(values.get("account_prefix"), "account_prefix", "Account prefix"),
           "account_digits": _whole(values.get("account_digits"), "account_digits", "Account digits", 3, 12),
           "invoice_prefix": _prefix(values.get("invoice_prefix"), "invoice_prefix", "Invoice prefix"),
           "receipt_prefix": _prefix(values.get("receipt_prefix"), "receipt_prefix", "Receipt prefix"),
           "default_grace_days": _whole(values.get("default_grace_days"), "default_grace_days", "Grace days", 0, 90),
           "suspend_mode": values.get("suspend_mode") or "",
           "reminder_days": reminder_days(values.get("reminder_days")),
           "agent_commission_percent": _percent(values.get("agent_commission_percent"))}
    if out["suspend_mode"] not in SUSPEND_MODES:
        raise ServiceError("Suspension: choose 'disable' or 'restrict'.", field="suspend_mode")
    # The RADIUS choices: checked when given, kept as they are when a caller leaves them out.
    for name, allowed, label in (("radius_suspend_action", RADIUS_SUSPEND_ACTIONS, "RADIUS suspension"),
                                 ("radius_plan_change_action", RADIUS_PLAN_CHANGE_ACTIONS, "RADIUS plan change")):
        if values.get(name) is not None:
            if values[name] not in allowed:
                raise ServiceError(f"{label}: choose " + " or ".join(f"'{a}'" for a in allowed) + ".", field=name)
            out[name] = values[name]
    if out["invoice_prefix"] and out["invoice_prefix"] == out["receipt_prefix"]:
        raise ServiceError("Give receipts a prefix of their own, so a receipt number never reads like an invoice's.",
                           field="receipt_prefix")
    if len(out["account_prefix"]) + out["account_digits"] > 32:
        raise ServiceError("Account numbers hold at most 32 characters: shorten the prefix or the digits.",
                           field="account_digits")
    return out


def save_billing(actor: User, values: dict) -> Branding:
    """Apply the Billing section of Settings: numbering, grace, suspension, reminders, agents' commission; audited."""
    clean = check_billing(values)
    branding = get()
    changed = [name.replace("_", " ") for name, new in clean.items() if getattr(branding, name) != new]
    suspension_changed = clean.get("radius_suspend_action", branding.radius_suspend_action) != branding.radius_suspend_action
    before = audit.snapshot(branding, list(clean))
    for name, new in clean.items():
        setattr(branding, name, new)
    if changed:
        audit.record(actor, "settings.billing", "branding", "changed " + ", ".join(changed), obj=branding,
                     changes=audit.diff(before, audit.snapshot(branding, list(clean))))
    if suspension_changed:  # the isp-suspended group's rows follow the choice (its members stay where they are)
        from isp.services import provisioning_radius

        provisioning_radius.write_suspended_group()
    db.session.flush()
    return branding
