"""Simulated subscribers: hotspot and PPPoE clients that log in, use traffic and leave."""

from __future__ import annotations

import ipaddress
import math
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .clock import format_date
from .values import format_duration, parse_duration, parse_rate_limit

if TYPE_CHECKING:
    from .state import RouterState

RETRY_AFTER = 120.0  # a refused client tries again this much later, on average
REDIAL = (5.0, 30.0)  # a bound device (a subscriber's CPE) dials again this many seconds after a drop
HS, PPP = "/ip/hotspot/active", "/ppp/active"
IFACES = "/interface"


@dataclass
class Client:
    """One subscriber device; it holds at most one session at a time."""

    idx: int
    kind: str  # "hotspot" or "ppp"
    mac: str
    address: str
    next_try: float = 0.0
    session: dict | None = None
    once: bool = False  # a device brought by login_as: it never logs in again by itself
    account: str | None = None  # the one account this device uses (login_as), else a random one


@dataclass
class Population:
    """The clients of one router and the rules RouterOS applies to their logins."""

    state: RouterState
    clients: list[Client] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=lambda: {"logins": 0, "rejected": 0, "logouts": 0})

    def __post_init__(self) -> None:
        cfg = self.state.config
        self.rng = random.Random("%s:%s:clients" % (cfg.seed, cfg.name))
        for i in range(cfg.clients):
            kind = "hotspot" if i % 2 == 0 else "ppp"
            net = "10.5.50" if kind == "hotspot" else "10.10.0"
            mac = "02:00:%02X:%02X:%02X:%02X" % (self.rng.randrange(256), i // 65536 % 256,
                                                  i // 256 % 256, i % 256)
            self.clients.append(Client(i, kind, mac, "%s.%d" % (net, 10 + i % 240)))
        self.reset(self.state.boot_time)

    def reset(self, now: float) -> None:
        """End every session (as a reboot does) and schedule fresh first attempts."""
        for client in self.clients:
            if client.session is not None:
                self.end(client.session, now, "reboot")
            client.next_try = 1e18 if client.once else self.when(now + self.rng.uniform(0, 60))

    @staticmethod
    def when(t: float) -> float:
        """Round an attempt up to a whole second, as RouterOS counts uptime in seconds."""
        return float(math.ceil(t))

    def step(self, t: float, dt: float) -> None:
        """Move every client forward by dt simulated seconds starting at t."""
        for client in self.clients:
            if client.session is None and client.next_try <= t + dt:
                start = max(t, client.next_try)
                self.login(client, start)
                if client.session is not None:
                    self.advance(client.session, start, t + dt - start)
            elif client.session is not None:
                self.advance(client.session, t, dt)

    # -- logging in ------------------------------------------------------------
    def refusal(self, client: Client, account: dict) -> str | None:
        """Why RouterOS would refuse this login, or None."""
        menus = self.state.menus
        if account.get("disabled") == "true":
            return "user disabled"
        if client.kind == "ppp":
            if account.get("service") not in ("any", "pppoe"):
                return "service mismatch"
            caller_id = str(account.get("caller-id") or "")
            if caller_id and caller_id.upper() != client.mac.upper():
                return "caller-id mismatch"
            profile = menus["/ppp/profile"].by_name(str(account.get("profile"))) or {}
            busy = any(s.get("name") == account["name"] for s in menus[PPP].items.values())
            return "only one session allowed" if profile.get("only-one") == "yes" and busy else None
        limit = parse_duration(str(account.get("limit-uptime", "")))
        if limit and account.get("_used", 0.0) >= limit:
            return "uptime limit reached"
        cap = account.get("limit-bytes-total")
        if cap and int(str(cap)) and account.get("_bytes", 0.0) >= int(str(cap)):
            return "traffic limit reached"
        profile = menus["/ip/hotspot/user/profile"].by_name(str(account.get("profile"))) or {}
        shared = int(str(profile.get("shared-users", "1")))
        count = sum(1 for s in menus[HS].items.values() if s.get("_account") is account)
        return "no more sessions are allowed for user" if count >= shared else None

    def login_as(self, name: str, t: float, kind: str = "hotspot", mac: str | None = None,
                 redial: bool = False) -> str | None:
        """A new device logs in with a named account now (tests, demo); returns the refusal or None.

        mac is the device's MAC (a PPP secret's caller-id lock compares it). A redial device is a
        subscriber's CPE: after a drop or a refusal it dials the same account again within seconds,
        forever; otherwise the device gives up after its first session or refusal.
        """
        i = len(self.clients)
        mac = (mac or "02:AA:%02X:%02X:%02X:%02X" % (i // 2**24 % 256, i // 65536 % 256,
                                                     i // 256 % 256, i % 256)).upper()
        client = Client(i, kind, mac, "%s.%d" % ("10.5.60" if kind == "hotspot" else "10.10.1", 10 + i % 240),
                        next_try=1e18, once=not redial, account=name)
        self.clients.append(client)
        account = self.bound_account(client)
        if account is None:
            if redial:
                client.next_try = self.when(t + self.rng.uniform(*REDIAL))
            return "no such user"
        self.login(client, t, account)
        if client.session is None:
            return self.refusal(client, account) or "refused"
        return None

    def bound_account(self, client: Client) -> dict | None:
        """The account a login_as device dials with, looked up afresh (it may be re-created)."""
        menu = self.state.menus["/ppp/secret" if client.kind == "ppp" else "/ip/hotspot/user"]
        return menu.by_name(client.account) if client.account else None

    def login(self, client: Client, t: float, account: dict | None = None) -> None:
        """Try to start a session with a random account that exists on the router (or the given one)."""
        menus = self.state.menus
        if client.account is not None:
            account = account if account is not None else self.bound_account(client)
            if account is None:  # not (yet, or any more) on the router
                client.next_try = 1e18 if client.once else self.when(t + self.rng.uniform(*REDIAL))
                return
        elif account is None:
            accounts = list(menus["/ppp/secret" if client.kind == "ppp" else "/ip/hotspot/user"].items.values())
            if not accounts:
                client.next_try = t + RETRY_AFTER
                return
            account = self.rng.choice(accounts)
        if self.refusal(client, account):
            self.stats["rejected"] += 1
            retry = self.rng.uniform(*REDIAL) if client.account else self.rng.expovariate(1 / RETRY_AFTER)
            client.next_try = 1e18 if client.once else self.when(t + retry)
            return
        if client.kind == "ppp":
            menu = menus[PPP]
            profile = menus["/ppp/profile"].by_name(str(account.get("profile"))) or {}
            values = {"name": account["name"], "service": "pppoe", "caller-id": client.mac,
                      "address": _fixed(account.get("remote-address")) or client.address,
                      "uptime": "0s", "encoding": "",
                      "session-id": "0x81%06X" % (self.state.next_session()),
                      "limit-bytes-in": account.get("limit-bytes-in", "0"),
                      "limit-bytes-out": account.get("limit-bytes-out", "0"), "radius": "false"}
            rates = (self.rng.uniform(20e3, 200e3), self.rng.uniform(200e3, 2e6))
        else:
            menu = menus[HS]
            profile = menus["/ip/hotspot/user/profile"].by_name(str(account.get("profile"))) or {}
            server = account.get("server")
            if server in (None, "all"):
                first = next(iter(menus["/ip/hotspot"].items.values()), {})
                server = first.get("name", "hotspot1")
            values = {"server": server, "user": account["name"],
                      "address": _fixed(account.get("address")) or client.address,
                      "mac-address": client.mac, "login-by": "http-chap", "uptime": "0s",
                      "idle-time": "0s", "keepalive-timeout": "2m", "bytes-in": "0",
                      "bytes-out": "0", "packets-in": "0", "packets-out": "0", "radius": "false"}
            rates = (self.rng.uniform(5e3, 60e3), self.rng.uniform(50e3, 600e3))
        session = menu.add({k: str(v) for k, v in values.items()}, internal=True)
        limit = parse_rate_limit(str(profile.get("rate-limit", "")))
        session.update(_client=client, _account=account, _profile=profile, _up=0.0, _in=0.0,
                       _out=0.0, _caps=(limit[0] / 8, limit[1] / 8) if limit else (2.5e6, 2.5e6),
                       _rates=rates, _ends=t + self.rng.expovariate(1 / self.state.config.session_mean))
        if client.account is not None:
            session["_ends"] = 1e18  # a subscriber's device stays until a rule, a kick or a logout ends it
        if client.kind == "ppp":
            session["_iface"] = self.add_interface(str(account["name"]), session)
        client.session = session
        self.stats["logins"] += 1

    def add_interface(self, user: str, session: dict) -> dict:
        """The dynamic pppoe-in interface RouterOS makes for a PPPoE session, <pppoe-USER>."""
        ifaces = self.state.menus[IFACES]
        name, n = "<pppoe-%s>" % user, 0
        while ifaces.by_name(name) is not None:  # a second session of the same user
            n += 1
            name = "<pppoe-%s-%d>" % (user, n)
        iface = ifaces.add({"name": name, "type": "pppoe-in", "mtu": "1480", "actual-mtu": "1480",
                            "dynamic": "true", "running": "true",
                            "last-link-up-time": format_date(self.state.last_sync, self.state.config.version_tuple)},
                           internal=True)
        iface["_session"] = session
        return iface

    # -- using and leaving -----------------------------------------------------
    def cuts(self, s: dict, t: float) -> list[tuple[float, str]]:
        """Every pending end of this session as (seconds from t, reason)."""
        account, profile = s["_account"], s["_profile"]
        out = [(s["_ends"] - t, "user-request")]
        timeout = parse_duration(str(profile.get("session-timeout", "")))
        if timeout:
            out.append((timeout - s["_up"], "session-timeout"))
        if s["_client"].kind == "hotspot":
            limit = parse_duration(str(account.get("limit-uptime", "")))
            if limit:
                out.append((limit - account.get("_used", 0.0) - s["_up"], "uptime-limit"))
            cap = int(str(account.get("limit-bytes-total") or 0))
            if cap:
                left = cap - account.get("_bytes", 0.0) - s["_in"] - s["_out"]
                out.append((left / sum(s["_rates"]), "traffic-limit"))
        return out

    def advance(self, s: dict, t: float, dt: float) -> None:
        """Accumulate uptime and bytes; end the session exactly when a limit is reached."""
        cut, reason = min(self.cuts(s, t))
        span = max(0.0, min(dt, cut))
        rin, rout = s["_rates"]
        s["_up"] += span
        s["_in"] += rin * span
        s["_out"] += rout * span
        self.show(s, t + span)
        if cut <= dt:
            self.end(s, t + span, reason)
            return
        walk = self.rng.uniform
        s["_rates"] = (min(max(rin * walk(0.8, 1.25), 1e3), s["_caps"][0]),
                       min(max(rout * walk(0.8, 1.25), 1e3), s["_caps"][1]))

    def show(self, s: dict, t: float) -> None:
        """Refresh the printed fields of an active entry."""
        s["uptime"] = format_duration(s["_up"])
        if s["_client"].kind == "ppp":
            # The router's view: it receives (rx) what the client uploads.
            iface = s["_iface"]
            iface["rx-byte"], iface["tx-byte"] = str(int(s["_in"])), str(int(s["_out"]))
            iface["rx-packet"], iface["tx-packet"] = str(int(s["_in"] / 900)), str(int(s["_out"] / 1200))
            iface["_bps"] = (s["_rates"][0] * 8, s["_rates"][1] * 8)
            return
        s["bytes-in"], s["bytes-out"] = str(int(s["_in"])), str(int(s["_out"]))
        s["packets-in"], s["packets-out"] = str(int(s["_in"] / 900)), str(int(s["_out"] / 1200))
        left = [c for c, r in self.cuts(s, t) if r in ("session-timeout", "uptime-limit")]
        if left:
            s["session-time-left"] = format_duration(max(0.0, min(left)))

    def end(self, s: dict, t: float, reason: str, removed: bool = False) -> None:
        """Close a session: account its usage, free the client and drop the entry."""
        client, account = s["_client"], s["_account"]
        if client.session is not s:
            return
        client.session = None
        idle = self.rng.uniform(*REDIAL) if client.account else self.rng.expovariate(1 / self.state.config.idle_mean)
        client.next_try = 1e18 if client.once else self.when(t + idle)
        self.stats["logouts"] += 1
        if client.kind == "hotspot":
            account["_used"] = account.get("_used", 0.0) + s["_up"]
            account["_bytes"] = account.get("_bytes", 0.0) + s["_in"] + s["_out"]
            account["uptime"] = format_duration(account["_used"])
            account["bytes-in"] = str(int(account.get("bytes-in", "0")) + int(s["_in"]))
            account["bytes-out"] = str(int(account.get("bytes-out", "0")) + int(s["_out"]))
        else:
            account["last-logged-out"] = format_date(t, self.state.config.version_tuple)
            account["last-caller-id"] = client.mac
            account["last-disconnect-reason"] = reason
        iface = s.get("_iface")
        if iface is not None and iface.get("_session") is s:
            iface["_session"] = None
            self.state.menus[IFACES].delete(iface)  # the dynamic interface goes with its session
        if not removed:
            s["_ended"] = True
            self.state.menus[PPP if client.kind == "ppp" else HS].delete(s)

    def sessions(self) -> list[dict]:
        """Every live session of this router."""
        return [c.session for c in self.clients if c.session is not None]


def _fixed(value: object) -> str | None:
    """An account's fixed address (a PPP secret's remote-address, a hotspot user's address)."""
    try:
        return str(ipaddress.IPv4Address(str(value))) if value else None
    except ValueError:
        return None  # a pool name: the device keeps its pool address
