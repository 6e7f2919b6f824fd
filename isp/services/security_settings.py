"""The security settings (on the single Branding row): who needs a second factor, remembered-device lifetime, and
the staff IP allow-lists per role. Read by the login flow and the allow-list check; edited in Settings → Security.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from isp.models import User
from isp.services import branding

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def two_factor_required(user: User) -> bool:
    """True when the settings make a second factor compulsory for this user's role (resellers: never forced)."""
    row = branding.get()
    role = user.role.value
    return (role == "admin" and row.require_2fa_admin) or (role == "operator" and row.require_2fa_operator)


def remember_device_days() -> int:
    """How long 'remember this device' skips the second factor (0: the option is off)."""
    return max(0, int(branding.get().remember_device_days or 0))


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
    text = getattr(branding.get(), f"allow_cidrs_{role}", "") or ""
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
    return any(address in net for net in networks if net.version == address.version)


def ip_allowed(role: str, ip: str) -> bool:
    """True if a user of this role may use the panel from ip."""
    return ip_in(ip, allowed_networks(role))
