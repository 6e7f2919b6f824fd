"""The security settings (on the single Branding row): who needs a second factor, remembered-device lifetime, and
the staff IP allow-lists per role. Read by the login flow and the allow-list check; edited in Settings → Security.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from isp.extensions import db
from isp.models import Branding, User
from isp.services import audit, branding
from isp.services.errors import ServiceError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _stored() -> Branding | None:
    """The settings row if it exists. Read paths never create it: concurrent first requests would race to insert it."""
    return db.session.get(Branding, 1)


def two_factor_required(user: User) -> bool:
    """True when the settings make a second factor compulsory for this user's role (resellers: never forced)."""
    row = _stored()
    if row is None:
        return False
    role = user.role.value
    return bool((role == "admin" and row.require_2fa_admin) or (role == "operator" and row.require_2fa_operator))


def remember_device_days() -> int:
    """How long 'remember this device' skips the second factor (0: the option is off; 30 before any setting)."""
    row = _stored()
    if row is None or row.remember_device_days is None:
        return 30
    return max(0, int(row.remember_device_days))


def parse_cidrs(text: str) -> list[Network]:
    """CIDRs separated by commas, spaces or newlines; raises ValueError naming the first bad entry."""
    networks: list[Network] = []
    for raw in text.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(raw, strict=False))
        except ValueError:
            raise ValueError(f"{raw!r} is not an IP address or CIDR block (e.g. 192.0.2.0/24)") from None
    return networks


def allowed_networks(role: str) -> list[Network]:
    """The role's allow-list; empty means every address is allowed."""
    text = getattr(_stored(), f"allow_cidrs_{role}", "") or ""
    try:
        return parse_cidrs(text)
    except ValueError:
        return []  # validated on save; a bad stored value never locks everyone out


def ip_in(ip: str, networks: Sequence[Network]) -> bool:
    """True if networks is empty or ip falls inside one of them."""
    if not networks:
        return True
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:192.0.2.1 from a dual-stack listener is the IPv4 client
    return any(address in net for net in networks if net.version == address.version)


def ip_allowed(role: str, ip: str) -> bool:
    """True if a user of this role may use the panel from ip."""
    return ip_in(ip, allowed_networks(role))


ROLES_WITH_LISTS = ("admin", "operator", "reseller")
MAX_ENTRIES = 200
FIELDS = ("require_2fa_admin", "require_2fa_operator", "remember_device_days",
          "allow_cidrs_admin", "allow_cidrs_operator", "allow_cidrs_reseller")


def normalise_cidrs(text: str | None, field: str) -> str:
    """The list as stored: one canonical CIDR a line, duplicates dropped; a ServiceError names the bad entry."""
    try:
        networks = parse_cidrs(text or "")
    except ValueError as err:
        raise ServiceError(f"{_label(field)}: {err}.", field=field) from None
    if len(networks) > MAX_ENTRIES:
        raise ServiceError(f"{_label(field)}: at most {MAX_ENTRIES} entries.", field=field)
    seen: list[str] = []
    for net in networks:
        if str(net) not in seen:
            seen.append(str(net))
    return "\n".join(seen)


def _label(field: str) -> str:
    return f"Allowed addresses for {field.rsplit('_', 1)[-1]}s"


def _days(value: object) -> int:
    raw = str(value if value is not None else "").strip()
    if not (raw.isascii() and raw.isdigit()) or int(raw) > 365:
        raise ServiceError("Remember device: a whole number of days from 0 to 365 (0 turns the option off).",
                           field="remember_device_days")
    return int(raw)


def check(values: dict) -> dict:
    """The Security section as stored, each field checked; a ServiceError names the first bad one."""
    out: dict[str, object] = {"require_2fa_admin": bool(values.get("require_2fa_admin")),
                              "require_2fa_operator": bool(values.get("require_2fa_operator")),
                              "remember_device_days": _days(values.get("remember_device_days"))}
    for role in ROLES_WITH_LISTS:
        field = f"allow_cidrs_{role}"
        out[field] = normalise_cidrs(values.get(field), field)
    return out


def save(actor: User, values: dict, ip: str) -> Branding:
    """Apply Settings → Security; refuses an admin list that would lock out `actor` at `ip`; audited with a diff."""
    clean = check(values)
    if actor.role.value == "admin" and not ip_in(ip, parse_cidrs(str(clean["allow_cidrs_admin"]))):
        raise ServiceError(f"Your own address {ip or 'unknown'} is not in the new admin list: saving it would lock you "
                           "out. Add your address (or its network) to the list, or clear the list.",
                           field="allow_cidrs_admin")
    row = branding.get()
    before = audit.snapshot(row, FIELDS)
    for name, value in clean.items():
        setattr(row, name, value)
    changes = audit.diff(before, audit.snapshot(row, FIELDS))
    if changes:
        audit.record(actor, "settings.security", obj=row, changes=changes)
    db.session.flush()
    return row
