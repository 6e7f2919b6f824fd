"""The menus each virtual router serves, with RouterOS field names and defaults."""

from __future__ import annotations

from .menus import Field, Menu, Settings

F = Field
RO = {"readonly": True}
READ_VERBS = frozenset({"print", "getall", "get", "listen"})
ACTIVE_VERBS = READ_VERBS | {"remove"}
IFACE_VERBS = READ_VERBS | {"set", "enable", "disable"}
SERVICES = ("ppp", "login", "hotspot", "wireless", "dhcp", "ipsec", "dot1x")
LOGIN_BY = ("mac", "cookie", "http-chap", "http-pap", "https", "trial", "mac-cookie")


def _name(item: dict) -> object:
    return item.get("name")


def _user_key(item: dict) -> object:
    # Hotspot user names are unique per server ("all" included), not globally.
    return (item.get("name"), item.get("server"))


def _peer_key(item: dict) -> object:
    return (item.get("interface"), item.get("public-key"))


def _list_entry(item: dict) -> object:
    # One address once per list; the same address may sit in several lists.
    return (item.get("list"), item.get("address"))


def hotspot_menus() -> list[Menu]:
    """The /ip/hotspot menus."""
    server = Menu("/ip/hotspot", {
        "name": F(required=True), "interface": F("ref", ref="/interface"),
        "address-pool": F(default="none"), "profile": F(default="default"),
        "idle-timeout": F("duration", default="5m"), "addresses-per-mac": F("int", default="2"),
        "disabled": F("bool", default="false"), "comment": F(),
    }, unique=_name, dup_message="failure: already have hotspot server with such name")
    user = Menu("/ip/hotspot/user", {
        "server": F("ref", default="all", ref="/ip/hotspot", extra=("all",)),
        "name": F(required=True), "password": F(default=""), "address": F(), "mac-address": F(),
        "profile": F("ref", default="default", ref="/ip/hotspot/user/profile"),
        "routes": F(), "email": F(),
        "limit-uptime": F("duration"), "limit-bytes-in": F("size"), "limit-bytes-out": F("size"),
        "limit-bytes-total": F("size"),
        "uptime": F(default="0s", **RO), "bytes-in": F(default="0", **RO),
        "bytes-out": F(default="0", **RO), "packets-in": F(default="0", **RO),
        "packets-out": F(default="0", **RO), "dynamic": F(default="false", **RO),
        "disabled": F("bool", default="false"), "comment": F(),
    }, unique=_user_key, dup_message="failure: already have user with this name for this server")
    profile = Menu("/ip/hotspot/user/profile", {
        "name": F(required=True), "address-pool": F(default="none"),
        "idle-timeout": F("duration", default="none"), "keepalive-timeout": F("duration", default="2m"),
        "status-autorefresh": F("duration", default="1m"), "shared-users": F("int", default="1"),
        "rate-limit": F(), "session-timeout": F("duration"), "on-login": F(), "on-logout": F(),
        "add-mac-cookie": F("bool", default="true"), "mac-cookie-timeout": F("duration", default="3d"),
        "transparent-proxy": F("bool", default="false"), "default": F(default="false", **RO),
        "comment": F(),
    }, unique=_name, dup_message="failure: profile with the same name already exists")
    active = Menu("/ip/hotspot/active", {name: F(**RO) for name in (
        "server", "user", "domain", "address", "mac-address", "login-by", "uptime", "idle-time",
        "session-time-left", "keepalive-timeout", "bytes-in", "bytes-out", "packets-in",
        "packets-out", "radius")}, verbs=ACTIVE_VERBS, persistent=False)
    # The hotspot *server* profiles (not /ip/hotspot/user/profile): where RADIUS is switched on.
    server_profile = Menu("/ip/hotspot/profile", {
        "name": F(required=True), "hotspot-address": F(), "dns-name": F(default=""),
        "html-directory": F(default="hotspot"), "smtp-server": F(default="0.0.0.0"),
        "login-by": F("set", default="cookie,http-chap", choices=LOGIN_BY),
        "http-cookie-lifetime": F("duration", default="3d"), "split-user-domain": F("bool", default="false"),
        "rate-limit": F(), "use-radius": F("bool", default="false"),
        "radius-accounting": F("bool", default="true"),
        "radius-interim-update": F("duration", default="received", extra=("received",)),
        "radius-default-domain": F(default=""), "radius-location-id": F(default=""),
        "radius-location-name": F(default=""), "radius-mac-format": F(default="XX:XX:XX:XX:XX:XX"),
        "nas-port-type": F(default="wireless-802.11"), "default": F(default="false", **RO),
        "comment": F(),
    }, unique=_name, dup_message="failure: profile with the same name already exists")
    return [server, user, profile, active, server_profile]


def ppp_menus() -> list[Menu]:
    """The /ppp menus."""
    secret = Menu("/ppp/secret", {
        "name": F(required=True),
        "service": F("choice", default="any",
                     choices=("any", "async", "l2tp", "ovpn", "pppoe", "pptp", "sstp")),
        "caller-id": F(default=""), "password": F(default=""),
        "profile": F("ref", default="default", ref="/ppp/profile"),
        "routes": F(default=""), "ipv6-routes": F(default=""),
        "limit-bytes-in": F("size", default="0"), "limit-bytes-out": F("size", default="0"),
        "local-address": F(), "remote-address": F(),
        "last-logged-out": F(**RO), "last-caller-id": F(**RO), "last-disconnect-reason": F(**RO),
        "disabled": F("bool", default="false"), "comment": F(),
    }, unique=_name, dup_message="failure: secret with the same name already exists")
    profile = Menu("/ppp/profile", {
        "name": F(required=True), "local-address": F(), "remote-address": F(), "bridge": F(),
        "rate-limit": F(), "only-one": F("choice", default="default", choices=("yes", "no", "default")),
        "change-tcp-mss": F("choice", default="default", choices=("yes", "no", "default")),
        "use-encryption": F("choice", default="default", choices=("yes", "no", "default", "required")),
        "session-timeout": F("duration"), "idle-timeout": F("duration"),
        "address-list": F(), "dns-server": F(), "default": F(default="false", **RO), "comment": F(),
    }, unique=_name, dup_message="failure: profile with the same name already exists")
    active = Menu("/ppp/active", {name: F(**RO) for name in (
        "name", "service", "caller-id", "address", "uptime", "encoding", "session-id",
        "limit-bytes-in", "limit-bytes-out", "radius")}, verbs=ACTIVE_VERBS, persistent=False)
    return [secret, profile, active]


def network_menus() -> list[Menu]:
    """/interface, wireguard, simple queues and RADIUS clients."""
    counters = ("rx-byte", "tx-byte", "rx-packet", "tx-packet", "rx-drop", "tx-drop",
                "tx-queue-drop", "rx-error", "tx-error", "fp-rx-byte", "fp-tx-byte",
                "fp-rx-packet", "fp-tx-packet")
    iface_fields = {
        "name": F(required=True), "default-name": F(**RO), "type": F(default="ether", **RO),
        "mtu": F("int", default="1500"), "actual-mtu": F(default="1500", **RO),
        "l2mtu": F(default="1514", **RO), "mac-address": F(**RO),
        "last-link-up-time": F(**RO), "last-link-down-time": F(**RO), "link-downs": F(default="0", **RO),
    }
    iface_fields.update({c: F(default="0", **RO) for c in counters})
    iface_fields.update({"dynamic": F(default="false", **RO), "running": F(default="true", **RO),
                         "disabled": F("bool", default="false"),
                         "comment": F()})
    iface = Menu("/interface", iface_fields, verbs=IFACE_VERBS, unique=_name,
                 dup_message="failure: already have interface with such name")
    wg = Menu("/interface/wireguard", {
        "name": F(required=True), "mtu": F("int", default="1420"),
        "listen-port": F("int", default="13231"), "private-key": F(), "public-key": F(**RO),
        "running": F(default="true", **RO), "disabled": F("bool", default="false"), "comment": F(),
    }, unique=_name, dup_message="failure: already have interface with such name")
    peers = Menu("/interface/wireguard/peers", {
        "interface": F("ref", required=True, ref="/interface/wireguard"),
        "public-key": F(required=True), "private-key": F(), "preshared-key": F(),
        "allowed-address": F(default=""), "endpoint-address": F(default=""),
        "endpoint-port": F("int", default="0"), "persistent-keepalive": F("duration"),
        "current-endpoint-address": F(**RO), "current-endpoint-port": F(**RO),
        "last-handshake": F(**RO), "rx": F(default="0", **RO), "tx": F(default="0", **RO),
        "disabled": F("bool", default="false"), "comment": F(),
    }, unique=_peer_key, dup_message="failure: peer with the same public key already exists")
    pair0 = {"kind": "pair", "default": "0/0"}
    queue = Menu("/queue/simple", {
        "name": F(), "target": F(required=True), "parent": F(default="none"),
        "packet-marks": F(default=""), "priority": F(default="8/8"),
        "queue": F(default="default-small/default-small"),
        "limit-at": F(**pair0), "max-limit": F(**pair0), "burst-limit": F(**pair0),
        "burst-threshold": F(**pair0), "burst-time": F(default="0s/0s"),
        "bucket-size": F(default="0.1/0.1"), "invalid": F(default="false", **RO),
        "dynamic": F(default="false", **RO), "rate": F(default="0/0", **RO),
        "packet-rate": F(default="0/0", **RO), "bytes": F(default="0/0", **RO),
        "packets": F(default="0/0", **RO), "disabled": F("bool", default="false"), "comment": F(),
    }, unique=_name, dup_message="failure: already have such name")
    radius = Menu("/radius", {
        "service": F("set", default="", choices=SERVICES), "called-id": F(default=""),
        "domain": F(default=""), "address": F(required=True), "secret": F(default=""),
        "authentication-port": F("int", default="1812"), "accounting-port": F("int", default="1813"),
        "timeout": F("duration", default="300ms"), "accounting-backup": F("bool", default="false"),
        "realm": F(default=""), "src-address": F(default="0.0.0.0"),
        "disabled": F("bool", default="false"), "comment": F(),
    })
    return [iface, wg, peers, queue, radius]


def firewall_menus() -> list[Menu]:
    """/ip/firewall/address-list (an entry with a timeout is dynamic and goes away by itself)."""
    address_list = Menu("/ip/firewall/address-list", {
        "list": F(required=True), "address": F(required=True), "timeout": F("duration"),
        "creation-time": F(**RO), "dynamic": F(default="false", **RO),
        "disabled": F("bool", default="false"), "comment": F(),
    }, unique=_list_entry, dup_message="failure: already have such entry")
    return [address_list]


def log_menu() -> Menu:
    """/log: the memory log, read-only (print, get, listen); lines are added by the router's own events."""
    return Menu("/log", {"time": F(**RO), "topics": F(**RO), "message": F(**RO)},
                verbs=READ_VERBS, persistent=False)


def build_settings() -> dict[str, Settings]:
    """The one-item settings menus (print/get/set without .id): /ppp/aaa and /radius/incoming."""
    aaa = Settings("/ppp/aaa", {
        "use-radius": F("bool", default="false"), "accounting": F("bool", default="true"),
        "interim-update": F("duration", default="0s"),
        "use-circuit-id-in-nas-port-id": F("bool", default="false"),
        "enable-ipv6-accounting": F("bool", default="false"),
    })
    incoming = Settings("/radius/incoming", {
        "accept": F("bool", default="false"), "port": F("int", default="3799"), "vrf": F(default="main"),
    })
    return {s.path: s for s in (aaa, incoming)}


def build_menus() -> dict[str, Menu]:
    """Every list menu a virtual router serves, keyed by path."""
    menus = hotspot_menus() + ppp_menus() + network_menus() + firewall_menus() + [log_menu()]
    return {m.path: m for m in menus}
