"""One router's state: its menus, its clients and its vital signs, behind one lock."""

from __future__ import annotations

import base64
import hashlib
import random
import threading
from typing import Any

from .clock import SimClock, format_date
from .config import RouterConfig
from .events import Links, RouterLog
from .living import Living
from .menus import Item, Menu, Settings
from .population import HS, PPP, Population
from .schema import build_menus, build_settings
from .values import format_duration, parse_duration

MAX_STEP = 5.0  # simulated seconds per step; rules still cut sessions at the exact second
MAX_STEPS = 20000  # beyond this a long advance uses coarser steps
MIN_SYNC = 0.25  # simulated seconds; commands closer together than this share one step
ADDRESS_LIST = "/ip/firewall/address-list"


def wg_public_key(private_key: str) -> str:
    """A stable stand-in for the Curve25519 public key (not the real derivation)."""
    return base64.b64encode(hashlib.sha256(private_key.encode()).digest()).decode()


class RouterState:
    """Everything a router remembers; hold .lock while touching it from another thread."""

    def __init__(self, config: RouterConfig, clock: SimClock) -> None:
        self.lock = threading.RLock()
        self.config = config
        self.clock = clock
        self.identity = config.identity or config.name
        self.rng = random.Random("%s:%s:state" % (config.seed, config.name))
        self.boot_time = self.last_sync = clock.now()
        self._session_seq = 0
        self.boots = 0  # reboots so far
        self._timed: dict[int, Item] = {}  # address-list entries with a timeout, by id()
        self.menus: dict[str, Menu] = build_menus()
        self.settings: dict[str, Settings] = build_settings()
        self.nas: Any = None  # the router's RADIUS side (routeros_sim.nas.Nas) once it runs on a loop
        for menu in self.menus.values():
            menu.resolve_ref = self._ref_exists
        self._wire_hooks()
        self._seed_defaults()
        self.log = RouterLog(self)
        self.living = Living(self)
        self.links = Links(self)
        self.population = Population(self)
        self.log.add("system,info", "router rebooted")

    # -- helpers for tests and the control channel -----------------------------
    def menu(self, path: str) -> Menu:
        """The list menu at path, e.g. '/ip/hotspot/user'."""
        return self.menus[path]

    def add(self, path: str, **values: Any) -> str:
        """Add an item as the API would (validated); returns its .id."""
        with self.lock:
            args = {k.replace("_", "-"): _api_value(v) for k, v in values.items()}
            return str(self.menus[path].add(args)[".id"])

    def rows(self, path: str) -> list[dict[str, str]]:
        """What print would return for path right now."""
        with self.lock:
            self.sync(force=True)
            return self.menus[path].rows()

    def configure(self, path: str, **values: Any) -> None:
        """Set a settings menu such as /ppp/aaa as the API would: configure("/ppp/aaa", use_radius=True)."""
        with self.lock:
            self.settings[path].update({k.replace("_", "-"): _api_value(v) for k, v in values.items()})
            self.settings_changed(path)

    def settings_changed(self, path: str) -> None:
        """A settings menu changed (the NAS re-reads /radius/incoming on every packet, so nothing to do yet)."""

    def next_session(self) -> int:
        """A fresh PPP session number."""
        self._session_seq += 1
        return self._session_seq

    # -- time ------------------------------------------------------------------
    def sync(self, now: float | None = None, force: bool = False) -> None:
        """Bring counters and sessions up to the simulated time now (caller holds the lock)."""
        now = self.clock.now() if now is None else now
        span = now - self.last_sync
        # Stepping on every command would make a busy API client the main CPU cost.
        if span <= 0 or (span < MIN_SYNC and not force):
            return
        step = max(MAX_STEP, span / MAX_STEPS)
        t = self.last_sync
        while t < now:
            dt = min(step, now - t)
            self.links.advance(t, t + dt)
            self.population.step(t, dt)
            self.living.step(dt, t + dt)
            t += dt
        self.last_sync = now
        self._expire_addresses(now)

    def reboot(self) -> None:
        """Forget active sessions and hand out new .ids; configuration survives."""
        with self.lock:
            self.sync()
            self.population.reset(self.last_sync)
            self.boot_time = self.last_sync
            self.boots += 1
            start = self.rng.randrange(0x10, 0x1000)
            addresses = self.menus[ADDRESS_LIST]
            for entry in [e for e in addresses.items.values() if e.get("dynamic") == "true"]:
                addresses.delete(entry)  # timed entries do not survive a reboot
            for menu in self.menus.values():
                menu.items.clear() if not menu.persistent else menu.renumber(start)
            for iface in self.menus["/interface"].items.values():
                iface.update(_rx=0.0, _tx=0.0, _rxo=0, _txo=0)  # counters restart at boot (their width stays)
                self.living.show_counters(iface)
                iface["link-downs"] = "0"
                if iface.get("running") == "true":
                    iface["last-link-up-time"] = format_date(self.boot_time, self.config.version_tuple)
            self.log.clear()  # the memory log does not survive a reboot; its ids start again at *1
            self.log.add("system,info", "router rebooted")
            for queue in self.menus["/queue/simple"].items.values():
                queue.update(_up=0.0, _down=0.0, bytes="0/0", packets="0/0")  # counters restart at boot

    # -- persistence -----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Configuration and accumulated user counters, as JSON-ready data."""
        with self.lock:
            out: dict[str, Any] = {"identity": self.identity, "menus": {},
                                   "settings": {p: s.row() for p, s in self.settings.items()}}
            for path, menu in self.menus.items():
                if menu.persistent:
                    # WireGuard's /interface twins are rebuilt from /interface/wireguard on load;
                    # dynamic items (pppoe-in interfaces, timed address-list entries) are not kept.
                    out["menus"][path] = [_saved(i) for i in menu.items.values()
                                          if i.get("type") != "wg" and i.get("dynamic") != "true"]
            return out

    def load_dict(self, data: dict[str, Any]) -> None:
        """Replace the configuration with saved data (fresh .ids, as after a restart)."""
        with self.lock:
            self.population.reset(self.last_sync)
            self.identity = data.get("identity", self.identity)
            for path, values in data.get("settings", {}).items():
                self.settings[path].values.update(values)
            self._timed.clear()  # timed entries are dynamic, so never saved
            for path, items in data.get("menus", {}).items():
                menu = self.menus[path]
                menu.items.clear()
                menu.next_id = 1
                for saved in items:
                    menu.items[menu.next_id] = dict(saved, **{".id": "*%X" % menu.next_id})
                    menu.next_id += 1
            for iface in self.menus["/interface"].items.values():
                iface["running"] = "false" if iface.get("disabled") == "true" else "true"  # cables are plugged in
            for wg in self.menus["/interface/wireguard"].items.values():
                self._on_wg_change("add", wg)

    # -- wiring ----------------------------------------------------------------
    def _ref_exists(self, path: str, name: str) -> bool:
        return self.menus[path].by_name(name) is not None

    def _wire_hooks(self) -> None:
        m = self.menus
        m[HS].on_change = m[PPP].on_change = self._on_active_change
        m["/ip/hotspot/user"].on_change = self._on_account_change
        m["/ppp/secret"].on_change = self._on_account_change
        m["/interface/wireguard"].prepare = self._wg_keys
        m["/interface/wireguard"].on_change = self._on_wg_change
        m["/queue/simple"].prepare = self._queue_name
        m[ADDRESS_LIST].prepare = self._address_entry
        m[ADDRESS_LIST].on_change = self._on_address_change
        m["/radius"].on_change = self._on_radius_change
        m["/interface"].on_change = self._on_interface_change

    def _on_active_change(self, what: str, item: Item) -> None:
        # Removing an active entry through the API logs the client out.
        if what == "remove" and not item.get("_ended"):
            self.population.end(item, self.last_sync, "admin-disconnect", removed=True)

    def _on_account_change(self, what: str, item: Item) -> None:
        if what == "remove":
            for s in self.population.sessions():
                if s["_account"] is item:
                    self.population.end(s, self.last_sync, "user-removed")

    def _on_interface_change(self, what: str, item: Item) -> None:
        # Disabling an interface takes its link down (and logs it); enabling brings it back.
        if what == "set" and item.get("type") != "pppoe-in":
            self.log.add("system,info", "interface changed by admin")
            self.links.refresh(item, self.last_sync)

    def _on_radius_change(self, what: str, item: Item) -> None:
        if self.nas is not None:
            self.nas.listeners_changed()  # Disconnect/CoA are also taken on a loopback src-address

    def _wg_keys(self, item: Item) -> None:
        if not item.get("private-key"):
            item["private-key"] = base64.b64encode(self.rng.randbytes(32)).decode()
        item["public-key"] = wg_public_key(str(item["private-key"]))

    def _on_wg_change(self, what: str, item: Item) -> None:
        ifaces = self.menus["/interface"]
        twin = next((i for i in ifaces.items.values() if i.get("_wg") is item), None)
        if what == "remove":
            if twin is not None:
                twin["_builtin"] = False
                ifaces.delete(twin)
            return
        item["public-key"] = wg_public_key(str(item.get("private-key", "")))
        if twin is None:
            twin = ifaces.add({"name": str(item["name"]), "type": "wg", "mtu": str(item["mtu"])},
                              internal=True)
            twin.update(_wg=item, _builtin=True)
        twin.update({"name": item["name"], "disabled": item["disabled"], "actual-mtu": item["mtu"]})
        ifaces.touch()  # the twin was renamed in place
        self.links.refresh(twin, self.last_sync)

    def _queue_name(self, item: Item) -> None:
        if not item.get("name"):
            taken = {i.get("name") for i in self.menus["/queue/simple"].items.values()}
            n = 1
            while "queue%d" % n in taken:
                n += 1
            item["name"] = "queue%d" % n

    def _address_entry(self, item: Item) -> None:
        item["creation-time"] = format_date(self.last_sync, self.config.version_tuple)
        self._on_address_change("add", item)

    def _on_address_change(self, what: str, item: Item) -> None:
        # An entry given a timeout is dynamic and is removed when the timeout runs out.
        secs = parse_duration(str(item.get("timeout") or "")) if what != "remove" else None
        if secs:
            item.update({"dynamic": "true", "_expires": self.last_sync + secs})
            self._timed[id(item)] = item
        else:
            item.pop("_expires", None)
            if what != "remove":
                item.pop("timeout", None)
            self._timed.pop(id(item), None)

    def _expire_addresses(self, now: float) -> None:
        menu = self.menus[ADDRESS_LIST]
        for entry in list(self._timed.values()):
            left = float(entry["_expires"]) - now  # type: ignore[arg-type]
            if left <= 0:
                menu.delete(entry)
            else:
                entry["timeout"] = format_duration(left)

    def _seed_defaults(self) -> None:
        cfg, m, rng = self.config, self.menus, self.rng
        for i in range(1, cfg.ether_ports + 1):
            mac = "48:A9:8A:%02X:%02X:%02X" % (rng.randrange(256), rng.randrange(256), i)
            item = m["/interface"].add({"name": "ether%d" % i, "default-name": "ether%d" % i,
                                        "mac-address": mac,
                                        "last-link-up-time": format_date(self.boot_time, cfg.version_tuple),
                                        "type": "ether"}, internal=True)
            item["_builtin"] = True
        m["/interface"].add({"name": "bridge-hotspot", "type": "bridge", "mac-address": "48:A9:8A:00:00:01"},
                            internal=True)["_builtin"] = True
        m["/ip/hotspot/user/profile"].add({"name": "default", "default": "true"}, internal=True)["_builtin"] = True
        m["/ppp/profile"].add({"name": "default", "default": "true"}, internal=True)["_builtin"] = True
        m["/ppp/profile"].add({"name": "default-encryption", "use-encryption": "yes", "default": "true"},
                              internal=True)["_builtin"] = True
        m["/ip/hotspot/profile"].add({"name": "default", "default": "true"}, internal=True)["_builtin"] = True
        m["/ip/hotspot/profile"].add({"name": "hsprof1", "hotspot-address": "10.5.50.1",
                                      "dns-name": "hotspot.lan"}, internal=True)
        m["/ip/hotspot"].add({"name": "hotspot1", "interface": "bridge-hotspot",
                              "address-pool": "hs-pool", "profile": "hsprof1"}, internal=True)
        for i in range(1, cfg.hotspot_users + 1):
            m["/ip/hotspot/user"].add({"name": "user%d" % i, "password": "pass%d" % i}, internal=True)
        for i in range(1, cfg.ppp_secrets + 1):
            m["/ppp/secret"].add({"name": "ppp%d" % i, "password": "pass%d" % i,
                                  "service": "pppoe"}, internal=True)


def _saved(item: Item) -> dict[str, Any]:
    """An item without its .id and run-time private keys; usage counters are kept."""
    keep = ("_used", "_bytes", "_builtin")
    return {k: v for k, v in item.items() if k != ".id" and (not k.startswith("_") or k in keep)}


def _api_value(value: Any) -> str:
    """Python values as a client library would send them."""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)
