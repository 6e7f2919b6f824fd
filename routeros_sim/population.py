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
    password: str | None = None  # what the device types (checked locally, sent to RADIUS)
    method: str | None = None  # "pap" or "chap" towards RADIUS (default: pap on hotspot, chap on PPP)
    pending: bool = False  # an Access-Request is out
    waiters: list = field(default_factory=list)  # futures told the outcome of the pending login
    result: dict | None = None  # the outcome of the last RADIUS login
    nas_port: int = 0  # NAS-Port, fixed per device
    login_name: str | None = None  # a roaming device's current RADIUS user (RouterConfig.radius_users)
    login_password: str | None = None

    def credentials(self) -> tuple[str, str]:
        """The user name and password this device sends to RADIUS."""
        if self.account is not None:
            return self.account, self.password or ""
        return self.login_name or "", self.login_password or ""


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
        if client.password is not None and str(account.get("password", "")) != client.password:
            return "invalid password"
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

    def device(self, name: str, kind: str = "hotspot", mac: str | None = None, redial: bool = False,
               password: str | None = None, method: str | None = None) -> Client:
        """A new device bound to one account (it has not tried to log in yet)."""
        i = len(self.clients)
        mac = (mac or "02:AA:%02X:%02X:%02X:%02X" % (i // 2**24 % 256, i // 65536 % 256,
                                                     i // 256 % 256, i % 256)).upper()
        net = "10.5.%d" % (60 + i // 240 % 190) if kind == "hotspot" else "10.10.%d" % (1 + i // 240 % 250)
        client = Client(i, kind, mac, "%s.%d" % (net, 10 + i % 240),
                        next_try=1e18, once=not redial, account=name, password=password, method=method)
        self.clients.append(client)
        return client

    def login_as(self, name: str, t: float, kind: str = "hotspot", mac: str | None = None,
                 redial: bool = False) -> str | None:
        """A new device logs in with a named account now (tests, demo); returns the refusal or None.

        mac is the device's MAC (a PPP secret's caller-id lock compares it). A redial device is a
        subscriber's CPE: after a drop or a refusal it dials the same account again within seconds,
        forever; otherwise the device gives up after its first session or refusal.
        """
        client = self.device(name, kind, mac, redial)
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
        if client.pending:
            return
        if client.account is not None:
            account = account if account is not None else self.bound_account(client)
            nas = self.state.nas
            if account is None and client.password is not None and nas is not None and nas.wants(client.kind):
                client.pending = True  # no local account: RouterOS asks RADIUS
                client.next_try = 1e18
                nas.authenticate(client)
                return
            if account is None:  # not (yet, or any more) on the router
                client.next_try = 1e18 if client.once else self.when(t + self.rng.uniform(*REDIAL))
                return
        elif account is None:
            menu = menus["/ppp/secret" if client.kind == "ppp" else "/ip/hotspot/user"]
            accounts = list(menu.items.values())
            nas = self.state.nas
            users = self.state.config.radius_users
            remote = list(users) if users and nas is not None and nas.wants(client.kind) else []
            if not accounts and not remote:
                client.next_try = t + RETRY_AFTER
                return
            if not remote:
                account = self.rng.choice(accounts)
            else:  # RADIUS users the router does not know join the draw; a local account still wins
                pick = self.rng.randrange(len(accounts) + len(remote))
                if pick < len(accounts):
                    account = accounts[pick]
                else:
                    name = remote[pick - len(accounts)]
                    account = menu.by_name(name)
                    if account is None:
                        client.login_name, client.login_password = name, str(self.state.config.radius_users[name])
                        client.pending = True
                        client.next_try = 1e18
                        nas.authenticate(client)
                        return
        if self.refusal(client, account):
            self.refused(client, t)
            return
        self.open(client, t, account)

    def refused(self, client: Client, t: float) -> None:
        """Count a refused login and schedule the device's next try."""
        self.stats["rejected"] += 1
        retry = self.rng.uniform(*REDIAL) if client.account else self.rng.expovariate(1 / RETRY_AFTER)
        client.next_try = 1e18 if client.once else self.when(t + retry)

    def open(self, client: Client, t: float, account: dict, profile: dict | None = None,
             address: str | None = None, login_by: str = "http-chap", radius: bool = False) -> dict:
        """Start a session: the active entry, its counters and (PPPoE) its dynamic interface."""
        menus = self.state.menus
        if client.kind == "ppp":
            menu = menus[PPP]
            if profile is None:
                profile = menus["/ppp/profile"].by_name(str(account.get("profile"))) or {}
            values = {"name": account["name"], "service": "pppoe", "caller-id": client.mac,
                      "address": address or _fixed(account.get("remote-address")) or client.address,
                      "uptime": "0s", "encoding": "",
                      "session-id": "0x81%06X" % (self.state.next_session()),
                      "limit-bytes-in": account.get("limit-bytes-in", "0"),
                      "limit-bytes-out": account.get("limit-bytes-out", "0"),
                      "radius": "true" if radius else "false"}
            rates = (self.rng.uniform(20e3, 200e3), self.rng.uniform(200e3, 2e6))
        else:
            menu = menus[HS]
            if profile is None:
                profile = menus["/ip/hotspot/user/profile"].by_name(str(account.get("profile"))) or {}
            server = account.get("server")
            if server in (None, "all"):
                first = next(iter(menus["/ip/hotspot"].items.values()), {})
                server = first.get("name", "hotspot1")
            values = {"server": server, "user": account["name"],
                      "address": address or _fixed(account.get("address")) or client.address,
                      "mac-address": client.mac, "login-by": login_by, "uptime": "0s",
                      "idle-time": "0s", "keepalive-timeout": "2m", "bytes-in": "0",
                      "bytes-out": "0", "packets-in": "0", "packets-out": "0",
                      "radius": "true" if radius else "false"}
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
        self.state.log.login(session, t)
        return session

    # -- RADIUS ------------------------------------------------------------------
    def start_radius(self, client: Client, t: float, attrs: dict[str, list], method: str) -> dict:
        """Open the session an Access-Accept allows, applying its reply attributes, and send Start."""
        menus, nas = self.state.menus, self.state.nas
        first = {k: v[0] for k, v in attrs.items() if v}
        profiles = menus["/ppp/profile" if client.kind == "ppp" else "/ip/hotspot/user/profile"]
        group = first.get("Mikrotik-Group")  # unverified for PPP/hotspot: picks the user profile
        profile = (profiles.by_name(str(group)) if group else None) or profiles.by_name("default") or {}
        account = {"name": client.credentials()[0], "_radius": True}
        s = self.open(client, t, account, profile, address=first.get("Framed-IP-Address"),
                      login_by="http-pap" if method == "pap" else "http-chap", radius=True)
        acct, interim = nas.policy(client.kind, attrs) if nas is not None else (False, None)
        s.update(_radius=True, _acct=acct, _interim=interim, _acct_id=nas.next_session_id() if nas else "",
                 _nas_port=client.nas_port, _class=first.get("Class"), _reply=attrs)
        if interim:
            s["_next_interim"] = t + interim
        if client.kind == "ppp":
            s["session-id"] = "0x" + s["_acct_id"]
        if first.get("Session-Timeout"):
            s["_timeout"] = float(first["Session-Timeout"])
        if first.get("Mikrotik-Rate-Limit"):
            self.set_rate(s, str(first["Mikrotik-Rate-Limit"]))
        if first.get("Mikrotik-Total-Limit") or first.get("Mikrotik-Total-Limit-Gigawords"):
            s["_byte_cap"] = int(first.get("Mikrotik-Total-Limit") or 0) + (
                int(first.get("Mikrotik-Total-Limit-Gigawords") or 0) << 32)
        if first.get("Mikrotik-Address-List"):
            entry = menus["/ip/firewall/address-list"].add(
                {"list": str(first["Mikrotik-Address-List"]), "address": str(s["address"]), "dynamic": "true"},
                internal=True)
            entry["_session"] = s
            s["_list_entry"] = entry
        if self.state.nas is not None:
            self.state.nas.account(s, "Start")
        return s

    def set_rate(self, s: dict, rate_limit: str) -> None:
        """Apply a Mikrotik-Rate-Limit: the session's caps and its dynamic simple queue <hotspot-USER>/<pppoe-USER>."""
        limit = parse_rate_limit(rate_limit)
        if limit is None:
            return
        s["_rate_limit"] = rate_limit
        s["_caps"] = (limit[0] / 8, limit[1] / 8)
        s["_rates"] = (min(s["_rates"][0], s["_caps"][0]), min(s["_rates"][1], s["_caps"][1]))
        queues = self.state.menus["/queue/simple"]
        queue = s.get("_queue")
        if queue is None:
            user = str(s["_account"]["name"])
            prefix = "pppoe" if s["_client"].kind == "ppp" else "hotspot"
            name, n = "<%s-%s>" % (prefix, user), 0
            while queues.by_name(name) is not None:
                n += 1
                name = "<%s-%s-%d>" % (prefix, user, n)
            queue = queues.add({"name": name, "target": "%s/32" % s["address"], "dynamic": "true",
                                "max-limit": "%d/%d" % limit, "comment": ""}, internal=True)
            queue["_session"] = s
            s["_queue"] = queue
        else:
            queues.update(queue, {"max-limit": "%d/%d" % limit}, internal=True)

    def change(self, s: dict, attrs: dict[str, list]) -> None:
        """A CoA-Request on a live session: a new rate limit and/or session timeout."""
        first = {k: v[0] for k, v in attrs.items() if v}
        if first.get("Mikrotik-Rate-Limit"):
            self.set_rate(s, str(first["Mikrotik-Rate-Limit"]))
        if first.get("Session-Timeout"):
            s["_timeout"] = float(first["Session-Timeout"])  # counted from the session's start, like the Accept's

    @staticmethod
    def matches(s: dict, ident: dict[str, str]) -> bool:
        """Whether a session is the one a Disconnect/CoA names (every attribute given must match)."""
        user = s.get("name") if s["_client"].kind == "ppp" else s.get("user")
        acct_id = s.get("_acct_id") or str(s.get("session-id", "")).removeprefix("0x")
        checks = {"User-Name": user, "Acct-Session-Id": acct_id, "Framed-IP-Address": s.get("address")}
        return all(str(checks[k]) == v for k, v in ident.items())

    def describe(self, s: dict) -> dict:
        """A session as plain data (control channel, Python API)."""
        client, profile = s["_client"], s["_profile"]
        return {"id": s.get(".id"), "kind": client.kind, "user": s["_account"]["name"], "mac": client.mac,
                "address": s.get("address"), "radius": bool(s.get("_radius")),
                "acct_session_id": s.get("_acct_id"), "uptime": round(s["_up"], 3),
                "bytes_in": int(s["_in"]), "bytes_out": int(s["_out"]),
                "rate_limit": s.get("_rate_limit") or profile.get("rate-limit"),
                "session_timeout": s.get("_timeout"), "interim_interval": s.get("_interim"),
                "queue": s["_queue"]["name"] if s.get("_queue") else None}

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
        timeout = s.get("_timeout") or parse_duration(str(profile.get("session-timeout", "")))
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
        if s.get("_byte_cap"):  # Mikrotik-Total-Limit (+ Gigawords) from RADIUS, counted over this session
            out.append(((s["_byte_cap"] - s["_in"] - s["_out"]) / sum(s["_rates"]), "traffic-limit"))
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
        nxt = s.get("_next_interim")
        if nxt is not None and cut > dt and t + span >= nxt:  # a session ending now gets its Stop instead
            while nxt <= t + span:
                nxt += s["_interim"]
            s["_next_interim"] = nxt
            if self.state.nas is not None:
                self.state.nas.account(s, "Interim-Update")
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
        self.state.log.logout(s, t, reason)
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
        if s.get("_radius"):
            if self.state.nas is not None:
                self.state.nas.account(s, "Stop", reason)
            for key, path in (("_queue", "/queue/simple"), ("_list_entry", "/ip/firewall/address-list")):
                item = s.pop(key, None)
                if item is not None and self.state.menus[path].items.get(int(str(item[".id"])[1:], 16)) is item:
                    self.state.menus[path].delete(item)
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
