"""The WireGuard side of onboarding: X25519 key pairs, the hub's settings and the tunnel address pool."""
from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Iterable, Iterator

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from sqlalchemy import select

from isp.extensions import db
from isp.models import Branding, Router, User
from isp.services import audit
from isp.services.errors import ServiceError

HUB_FIELDS = ("hub_endpoint", "hub_public_key", "hub_tunnel_address", "tunnel_range", "tunnel_reserved",
              "radius_server_address", "panel_address")
DEFAULT_RANGE = "10.100.0.0/16"
# Smallest and largest pools we accept: a /30 holds the hub and one router; a /8 is plenty.
MIN_PREFIX, MAX_PREFIX = 8, 30
_HOST_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST_RE = re.compile(rf"^(?=.{{1,253}}\Z){_HOST_LABEL}(\.{_HOST_LABEL})*\Z")


def generate_keypair() -> tuple[str, str]:
    """A fresh X25519 key pair as WireGuard prints it: (private, public), each 44 characters of base64."""
    private = X25519PrivateKey.generate()
    raw_private = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    raw_public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw_private).decode("ascii"), base64.b64encode(raw_public).decode("ascii")


def public_key_of(private_key: str) -> str:
    """The public key that belongs to a base64 private key (to check a stored pair)."""
    private = X25519PrivateKey.from_private_bytes(base64.b64decode(private_key))
    return base64.b64encode(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode("ascii")


def check_key(value: str | None, field: str = "hub_public_key", label: str = "Hub public key") -> str:
    """A WireGuard key: 32 bytes in standard base64 (44 characters ending in '='); '' stays blank."""
    key = (value or "").strip()
    if not key:
        return ""
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32 or len(key) != 44:
        raise ServiceError(f"{label} is not a WireGuard key: it must be 44 characters of base64 ending in '=', "
                           "as `wg pubkey` prints it.", field=field)
    return key


def split_endpoint(value: str) -> tuple[str, int]:
    """(host, port) from 'host:port' or '[v6]:port' (the setting is validated on save)."""
    host, _, port = value.rpartition(":")
    return host.strip("[]"), int(port)


def check_endpoint(value: str | None) -> str:
    """The hub's public endpoint as host:port (a DNS name, an IPv4 address, or [IPv6]:port); '' stays blank."""
    text = (value or "").strip()
    if not text:
        return ""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ServiceError(f"Hub endpoint '{text}' must be host:port, such as vpn.example.net:51820.", field="hub_endpoint")
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise ServiceError(f"Hub endpoint: '{host}' is not an IPv6 address.", field="hub_endpoint") from None
        return f"{host}:{int(port)}"
    if ":" in host:
        raise ServiceError("Hub endpoint: write an IPv6 address in brackets, such as [2001:db8::1]:51820.",
                           field="hub_endpoint")
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        if not HOST_RE.match(host) or host.replace(".", "").isdigit():
            raise ServiceError(f"Hub endpoint: '{host}' is not a host name or IP address.", field="hub_endpoint") from None
    return f"{host.lower()}:{int(port)}"


def _address(value: str | None, field: str, label: str, blank: bool = True) -> str:
    text = (value or "").strip()
    if not text and blank:
        return ""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ServiceError(f"{label}: '{text}' is not an IP address.", field=field) from None


def check_range(value: str | None) -> ipaddress.IPv4Network:
    """The tunnel range: an IPv4 network between /8 and /30, written with its network address."""
    text = (value or "").strip() or DEFAULT_RANGE
    try:
        network = ipaddress.IPv4Network(text, strict=False)
    except ValueError:
        raise ServiceError(f"Tunnel range '{text}' is not an IPv4 network such as 10.100.0.0/16.", field="tunnel_range") from None
    if str(network) != text and str(network.network_address) != text.split("/")[0]:
        raise ServiceError(f"Tunnel range '{text}' has host bits set: did you mean {network}?", field="tunnel_range")
    if not MIN_PREFIX <= network.prefixlen <= MAX_PREFIX:
        raise ServiceError(f"Tunnel range must be between /{MIN_PREFIX} and /{MAX_PREFIX} (got /{network.prefixlen}).",
                           field="tunnel_range")
    return network


def parse_reserved(value: str | None) -> list[ipaddress.IPv4Network]:
    """Reserved addresses or CIDR blocks, separated by commas, spaces or new lines."""
    blocks = []
    for item in re.split(r"[\s,]+", value or ""):
        if not item:
            continue
        try:
            blocks.append(ipaddress.IPv4Network(item, strict=False))
        except ValueError:
            raise ServiceError(f"Reserved: '{item}' is not an IPv4 address or block such as 10.100.0.10 or "
                               "10.100.9.0/24.", field="tunnel_reserved") from None
    return blocks


def check_hub(values: dict) -> dict:
    """Validate the hub section; returns cleaned values or raises ServiceError naming the field."""
    network = check_range(values.get("tunnel_range"))
    hub = _address(values.get("hub_tunnel_address"), "hub_tunnel_address", "Hub tunnel address", blank=False)
    if ipaddress.ip_address(hub) not in network or ipaddress.ip_address(hub) in (network.network_address,
                                                                               network.broadcast_address):
        raise ServiceError(f"Hub tunnel address {hub} must be a host address inside the tunnel range {network}.",
                           field="hub_tunnel_address")
    reserved = parse_reserved(values.get("tunnel_reserved"))
    clean = {
        "hub_endpoint": check_endpoint(values.get("hub_endpoint")),
        "hub_public_key": check_key(values.get("hub_public_key")),
        "hub_tunnel_address": hub, "tunnel_range": str(network),
        "tunnel_reserved": ", ".join(str(b) if b.prefixlen < 32 else str(b.network_address) for b in reserved),
        "radius_server_address": _address(values.get("radius_server_address"), "radius_server_address",
                                          "RADIUS server address"),
        "panel_address": _address(values.get("panel_address"), "panel_address", "Panel address"),
    }
    if len(clean["tunnel_reserved"]) > 1000:
        raise ServiceError("Reserved: too many entries (1000 characters at most); use CIDR blocks.", field="tunnel_reserved")
    return clean


def _misplaced(clean: dict) -> list[str]:
    """Routers whose address the new settings would strand: outside the range, or the hub's own. A reserved
    address a router already holds is not stranded: reserving only stops the allocator handing it out again."""
    network = ipaddress.IPv4Network(clean["tunnel_range"])
    hub = ipaddress.ip_address(clean["hub_tunnel_address"])
    bad = []
    for name, address in db.session.execute(select(Router.name, Router.tunnel_address).where(
            Router.tunnel_address.is_not(None)).order_by(Router.name)):
        ip = ipaddress.ip_address(address)
        if ip not in network or ip == hub:
            bad.append(f"{name} ({address})")
    return bad


def save_hub(actor: User, values: dict) -> Branding:
    """Apply the WireGuard hub section of Settings, refusing one that strands already onboarded routers; audited."""
    from isp.services import branding as branding_service  # branding imports routers, which imports us

    clean = check_hub(values)
    bad = _misplaced(clean)
    if bad:
        raise ServiceError("These routers already have a tunnel address the new range or hub address "
                           f"would exclude: {', '.join(bad[:5])}{' …' if len(bad) > 5 else ''}. Keep the range, "
                           "or delete and re-add those routers.", field="tunnel_range")
    settings = branding_service.get()
    changed = [name.replace("_", " ") for name, new in clean.items() if getattr(settings, name) != new]
    before = audit.snapshot(settings, clean)
    for name, new in clean.items():
        setattr(settings, name, new)
    if changed:
        audit.record(actor, "settings.hub", "branding", "changed " + ", ".join(changed), obj=settings,
                     changes=audit.changed(before, settings))
    db.session.flush()
    return settings


def candidates(settings: Branding, exclude: Iterable[str] = (), start: str = "") -> Iterator[str]:
    """Free tunnel addresses in order: the range's hosts minus the hub, reserved blocks and `exclude`; with `start`,
    those after it first, then (wrapping round) the rest."""
    network = check_range(settings.tunnel_range)
    reserved = parse_reserved(settings.tunnel_reserved)
    skip = {int(ipaddress.ip_address(a)) for a in exclude}
    if settings.hub_tunnel_address:
        skip.add(int(ipaddress.ip_address(settings.hub_tunnel_address)))
    # Host addresses only (not the network or broadcast); a reserved block is jumped over whole, so a big one
    # costs one step rather than one per address.
    first, last = int(network.network_address) + 1, int(network.broadcast_address) - 1
    after = int(ipaddress.ip_address(start)) + 1 if start and ipaddress.ip_address(start) in network else first
    for low, high in ((after, last), (first, min(after - 1, last))):
        current = low
        while current <= high:
            block = next((b for b in reserved if int(b.network_address) <= current <= int(b.broadcast_address)), None)
            if block is not None:
                current = int(block.broadcast_address) + 1
            elif current in skip:
                current += 1
            else:
                yield str(ipaddress.IPv4Address(current))
                current += 1


def next_free(settings: Branding, tried: Iterable[str] = ()) -> str:
    """The next free tunnel address after the last one issued (then, wrapping round, the lowest free): an address a
    deleted router held is not handed to the next router at once, while FreeRADIUS may still cache its client
    (and old secret) and the hub still lists its peer. `tried` adds addresses a concurrent transaction just took."""
    used = set(db.session.scalars(select(Router.tunnel_address).where(Router.tunnel_address.is_not(None))))
    for address in candidates(settings, used | set(tried), start=settings.tunnel_last_issued or ""):
        return address
    raise ServiceError(f"The tunnel range {settings.tunnel_range} is full: every address is taken or reserved. "
                       "Widen the range in Settings → WireGuard hub.")


def hub_problems(settings: Branding) -> list[str]:
    """What the hub settings still lack before a setup script can be made (empty when ready)."""
    problems = []
    if not settings.hub_endpoint:
        problems.append("the hub endpoint (host:port routers dial)")
    if not settings.hub_public_key:
        problems.append("the hub's WireGuard public key")
    return problems
