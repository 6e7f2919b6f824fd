"""Field checks shared by the customer forms and the CSV import: each cleans a value or raises ServiceError(field)."""
from __future__ import annotations

import ipaddress
import re

from isp.services.errors import ServiceError

_PHONE_RE = re.compile(r"^\+?[0-9 ]+\Z", re.ASCII)
# Local part and domain kept simple on purpose: a mail server decides the rest; this stops typos and markup.
_EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+\Z", re.ASCII)
_MAC_HEX_RE = re.compile(r"^[0-9A-Fa-f]{12}\Z", re.ASCII)
_MAC_SHAPES = (
    re.compile(r"^[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}\Z", re.ASCII),  # aa:bb:.. or aa-bb-..
    re.compile(r"^[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\Z", re.ASCII),  # Cisco aabb.ccdd.eeff
    _MAC_HEX_RE,
)
# RouterOS accepts more, but these survive the API, a CSV, a RADIUS attribute and a URL unquoted.
_USERNAME_RE = re.compile(r"^[A-Za-z0-9._@-]{1,64}\Z", re.ASCII)
_TAG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}\Z", re.ASCII)
# Router-side object names we create (address pools, address lists).
_ROUTER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z", re.ASCII)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

MAX_TAGS_LENGTH = 255


def _shown(value: str) -> str:
    """A value quoted back in a message, cut short."""
    return value if len(value) <= 40 else value[:40] + "…"


def text(value: object, field: str, max_length: int, required: bool = False, label: str | None = None,
         multiline: bool = False) -> str:
    """Free text (name, address, notes): trimmed, no control characters, at most `max_length`."""
    raw = str(value if value is not None else "").strip()
    name = label or field.replace("_", " ").capitalize()
    if required and not raw:
        raise ServiceError(f"{name} is required.", field)
    if len(raw) > max_length:
        raise ServiceError(f"{name} is at most {max_length} characters.", field)
    checked = raw.replace("\r\n", "\n").replace("\n", "").replace("\t", "") if multiline else raw.replace("\t", " ")
    if _CONTROL_RE.search(checked) or (not multiline and "\n" in raw):
        raise ServiceError(f"{name} contains control characters.", field)
    return raw.replace("\r\n", "\n") if multiline else raw


def phone(value: object, field: str = "phone", required: bool = False) -> str:
    """A phone number: digits, spaces and a leading +, 7 to 15 digits; normalised to '+2547…' or '07…'."""
    raw = str(value if value is not None else "").strip()
    if not raw:
        if required:
            raise ServiceError("A phone number is required.", field)
        return ""
    if len(raw) > 32 or not _PHONE_RE.match(raw):
        raise ServiceError(f"'{_shown(raw)}' is not a phone number: use digits, spaces and an optional leading +.", field)
    digits = raw.replace(" ", "").lstrip("+")
    if not 7 <= len(digits) <= 15:
        raise ServiceError(f"A phone number has 7 to 15 digits ('{_shown(raw)}' has {len(digits)}).", field)
    return ("+" if raw.startswith("+") else "") + digits


def email(value: object, field: str = "email", required: bool = False) -> str:
    """An email address, trimmed, domain lower-cased; '' when blank and optional."""
    raw = str(value if value is not None else "").strip()
    if not raw:
        if required:
            raise ServiceError("An email address is required.", field)
        return ""
    if len(raw) > 254 or not _EMAIL_RE.match(raw):
        raise ServiceError(f"'{_shown(raw)}' is not an email address (expected name@example.com).", field)
    local, domain = raw.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def ipv4(value: object, field: str = "static_ip", network: str | None = None, required: bool = False) -> str | None:
    """A host IPv4 address a subscriber can hold; None when blank and optional.

    Refused: 0.0.0.0, broadcast, loopback, multicast, link-local, reserved, and the network or broadcast
    address of `network` when given (otherwise of the /24 around it, which is how access networks are cut).
    """
    raw = str(value if value is not None else "").strip()
    if not raw:
        if required:
            raise ServiceError("A static IP address is required for this plan.", field)
        return None
    if raw.endswith("/32"):
        raw = raw[:-3]
    try:
        address = ipaddress.IPv4Address(raw)
    except ValueError:
        raise ServiceError(f"'{_shown(raw)}' is not an IPv4 address (e.g. 10.20.0.15).", field) from None
    if address.is_unspecified or address == ipaddress.IPv4Address("255.255.255.255"):
        raise ServiceError(f"{address} cannot be given to a subscriber.", field)
    if address.is_loopback or address.is_multicast or address.is_link_local or address.is_reserved:
        raise ServiceError(f"{address} is a loopback, multicast, link-local or reserved address.", field)
    subnet = ipaddress.IPv4Network(network, strict=False) if network else ipaddress.IPv4Network(f"{address}/24", strict=False)
    if subnet.prefixlen < 31 and address in (subnet.network_address, subnet.broadcast_address):
        raise ServiceError(f"{address} is the network or broadcast address of {subnet}.", field)
    return str(address)


def mac(value: object, field: str = "caller_id", required: bool = False) -> str:
    """A MAC address in any common form, normalised to upper-case colon form AA:BB:CC:DD:EE:FF; '' when blank."""
    raw = str(value if value is not None else "").strip()
    if not raw:
        if required:
            raise ServiceError("A MAC address is required.", field)
        return ""
    if len(raw) > 17 or not any(shape.match(raw) for shape in _MAC_SHAPES):
        raise ServiceError(f"'{_shown(raw)}' is not a MAC address (e.g. AA:BB:CC:DD:EE:FF).", field)
    digits = re.sub(r"[^0-9A-Fa-f]", "", raw).upper()
    if digits in ("000000000000", "FFFFFFFFFFFF"):
        raise ServiceError(f"'{raw}' is not a device's MAC address.", field)
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


def username(value: object, field: str = "username") -> str:
    """A service login RouterOS, RADIUS and CSV all take as is: letters, digits, . _ - @; 1 to 64."""
    raw = str(value if value is not None else "").strip()
    if not raw:
        raise ServiceError("A username is required.", field)
    if not _USERNAME_RE.match(raw):
        raise ServiceError(f"'{_shown(raw)}' is not a valid username: use 1 to 64 letters, digits, '.', '_', '-' "
                           "or '@' (no spaces).", field)
    return raw


def router_name(value: object, field: str, label: str = "Name") -> str:
    """A name we create on a router (address pool, list): letters, digits, . _ -, up to 64; '' when blank."""
    raw = str(value if value is not None else "").strip()
    if raw and not _ROUTER_NAME_RE.match(raw):
        raise ServiceError(f"{label} '{_shown(raw)}' may only hold letters, digits, '.', '_' and '-' "
                           "(at most 64, starting with a letter or digit).", field)
    return raw


def tags(value: object, field: str = "tags") -> str:
    """Tags from 'VIP, fiber  north' or a list: lower-case, unique, in order, stored as 'vip,fiber,north'."""
    items = value if isinstance(value, list | tuple) else re.split(r"[,\s]+", str(value if value is not None else ""))
    out: list[str] = []
    for item in items:
        tag = str(item).strip().lower()
        if not tag:
            continue
        if not _TAG_RE.match(tag):
            raise ServiceError(f"Tag '{_shown(tag)}' may only hold letters, digits, '-' and '_' (at most 32).", field)
        if tag not in out:
            out.append(tag)
    joined = ",".join(out)
    if len(joined) > MAX_TAGS_LENGTH:
        raise ServiceError(f"Tags are at most {MAX_TAGS_LENGTH} characters in all.", field)
    return joined
