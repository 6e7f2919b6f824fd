"""The router's memory log (/log) and the physical link state of its interfaces (up, down, flapping)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .clock import format_date
from .menus import Item, Menu

if TYPE_CHECKING:
    from .state import RouterState

LOG = "/log"
IFACES = "/interface"
LOG_LINES = 1000  # RouterOS keeps this many lines in its memory log by default
LOGOUT_WORDS = {"user-request": "user request", "logout": "user request", "session-timeout": "session timeout",
                "uptime-limit": "uptime limit reached", "traffic-limit": "traffic limit reached",
                "admin-disconnect": "admin reset", "radius-disconnect": "admin reset", "user-removed": "admin reset",
                "reboot": "admin reset"}


class RouterLog:
    """Appends /log entries (`.id`, `time`, `topics`, `message`), keeping the newest LOG_LINES."""

    def __init__(self, state: RouterState) -> None:
        self.state = state

    @property
    def menu(self) -> Menu:
        """The /log menu the API reads."""
        return self.state.menus[LOG]

    def add(self, topics: str, message: str, t: float | None = None) -> str:
        """Append one entry stamped t (default: the router's current simulated time); returns its .id."""
        menu = self.menu
        when = self.state.last_sync if t is None else t
        item = menu.add({"time": format_date(when, self.state.config.version_tuple),
                         "topics": topics, "message": message}, internal=True)
        while len(menu.items) > LOG_LINES:
            del menu.items[next(iter(menu.items))]  # the oldest line scrolls out, silently
        return str(item[".id"])

    def login(self, s: dict, t: float) -> None:
        """The /log lines RouterOS writes when a hotspot or PPPoE client logs in."""
        if s["_client"].kind == "ppp":
            self.add("pppoe,ppp,info", "%s: authenticated" % s["_iface"]["name"], t)
            self.add("pppoe,ppp,info", "%s: connected" % s["_iface"]["name"], t)
            self.add("pppoe,ppp,info,account", "%s logged in, %s" % (s["name"], s["address"]), t)
        else:
            self.add("hotspot,account,info,debug", "%s (%s): logged in" % (s["user"], s["address"]), t)

    def logout(self, s: dict, t: float, reason: str) -> None:
        """The /log lines of a logout; the PPP one carries uptime, bytes and packets as RouterOS prints them."""
        if s["_client"].kind == "ppp":
            self.add("pppoe,ppp,info,account", "%s logged out, %d %d %d %d %d" % (
                s["name"], s["_up"], s["_in"], s["_out"], s["_in"] / 900, s["_out"] / 1200), t)
            self.add("pppoe,ppp,info", "%s: disconnected" % s["_iface"]["name"], t)
        else:
            self.add("hotspot,account,info,debug", "%s (%s): logged out: %s" % (
                s["user"], s["address"], LOGOUT_WORDS.get(reason, reason.replace("-", " "))), t)

    def clear(self) -> None:
        """Forget every line; ids start again at *1 (a reboot)."""
        self.menu.items.clear()
        self.menu.next_id = 1


@dataclass
class Flap:
    """An interface's link going down for `down` s, then up for `up` s, from `since`; `count` cycles or forever."""

    since: float
    down: float
    up: float
    count: int | None = None

    @property
    def period(self) -> float:
        """One down-and-up cycle in seconds."""
        return self.down + self.up

    @property
    def ends(self) -> float:
        """When the last cycle is over (the link stays up from then on)."""
        return math.inf if self.count is None else self.since + self.count * self.period

    def transitions(self, t0: float, t1: float) -> list[tuple[float, bool]]:
        """(time, link up?) for every change in (t0, t1], in order."""
        out = []
        k = max(0, math.floor((t0 - self.since) / self.period))
        while True:
            start = self.since + k * self.period
            if start > t1 or start >= self.ends:
                return out
            for when, up in ((start, False), (start + self.down, True)):
                if t0 < when <= t1:
                    out.append((when, up))
            k += 1


class Links:
    """Cable state per interface: `running` follows `disabled` and the link, and every change is logged."""

    def __init__(self, state: RouterState) -> None:
        self.state = state
        self.flaps: dict[str, Flap] = {}

    def iface(self, name: str) -> Item:
        """A physical-ish interface by name (pppoe-in session interfaces come and go with sessions)."""
        item = self.state.menus[IFACES].by_name(name)
        if item is None:
            raise ValueError("no interface named %r" % name)
        if item.get("type") == "pppoe-in":
            raise ValueError("%s is a PPPoE session's interface; end the session instead" % name)
        return item

    def set_link(self, name: str, up: bool, t: float) -> None:
        """Plug or unplug the cable of one interface at t; stops a flap on it."""
        item = self.iface(name)
        self.flaps.pop(str(item["name"]), None)
        item["_link_down"] = not up
        self.refresh(item, t)

    def flap(self, name: str, down: float, up: float, count: int | None, t: float) -> None:
        """Start flapping the link now: down first."""
        if down <= 0 or up <= 0:
            raise ValueError("flap down and up are positive seconds")
        if count is not None and count < 1:
            raise ValueError("flap count is at least 1")
        item = self.iface(name)
        self.flaps[str(item["name"])] = Flap(t, float(down), float(up), count)
        item["_link_down"] = True
        self.refresh(item, t)

    def stop(self, name: str | None, t: float) -> None:
        """Stop flapping (one interface, or all when name is None); the link comes back up."""
        names = list(self.flaps) if name is None else [str(self.iface(name)["name"])]
        for n in names:
            if self.flaps.pop(n, None) is not None:
                self.set_link(n, True, t)

    def advance(self, t0: float, t1: float) -> None:
        """Apply every flap transition in (t0, t1] at its exact time."""
        if not self.flaps:
            return
        menu = self.state.menus[IFACES]
        for name, flap in list(self.flaps.items()):
            item = menu.by_name(name)
            if item is None:  # renamed or removed under the flap
                del self.flaps[name]
                continue
            for when, up in flap.transitions(t0, t1):
                item["_link_down"] = not up
                self.refresh(item, when)
            if t1 >= flap.ends:
                del self.flaps[name]

    def refresh(self, item: Item, t: float) -> None:
        """Recompute `running` from `disabled` and the cable; log the change and count link downs."""
        if item.get("type") == "pppoe-in":
            return
        running = item.get("disabled") != "true" and not item.get("_link_down")
        if (item.get("running") == "true") == running:
            return
        version = self.state.config.version_tuple
        item["running"] = "true" if running else "false"
        if running:
            item["last-link-up-time"] = format_date(t, version)
        else:
            item["last-link-down-time"] = format_date(t, version)
            item["link-downs"] = str(int(str(item.get("link-downs") or 0)) + 1)
        self.state.log.add("interface,info", "%s link %s" % (item["name"], "up" if running else "down"), t)
        self.state.living.refresh(item)
