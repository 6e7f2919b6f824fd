"""The router's own vital signs: interface counters, CPU, memory, health sensors."""

from __future__ import annotations

import ipaddress
import math
import random
from typing import TYPE_CHECKING

from .values import format_duration, parse_pair

if TYPE_CHECKING:
    from .state import RouterState

WAN, LAN = "ether1", "ether2"
ADDRESS_LIST, SUSPENDED = "/ip/firewall/address-list", "isp-suspended"
AVG_PACKET = 900  # bytes; turns byte rates into plausible packet rates


GAUGES = ("cpu-load", "free-memory", "temperature", "voltage")


class Living:
    """Random walks that keep a router's counters and gauges moving, plus what tests force on them.

    Holds pin a gauge at a value (the walk goes on underneath and shows again on release), spikes
    multiply an interface's traffic for a while, and wrap_counters puts byte counters just below
    2**32 or 2**64 so that the coming traffic wraps them.
    """

    def __init__(self, state: RouterState) -> None:
        cfg = state.config
        self.state = state
        self.rng = random.Random("%s:%s:living" % (cfg.seed, cfg.name))
        self.jitter = random.Random("%s:%s:monitor" % (cfg.seed, cfg.name))  # reads never move the walks
        self.rates: dict[str, list[float]] = {}  # bits per second, [rx, tx]
        self.bases: dict[str, tuple[float, float]] = {}  # the level each interface's walk returns to
        self.cpu_load = self.rng.uniform(2, 12)
        self.free_memory = cfg.total_memory * self.rng.uniform(0.55, 0.8)
        self.temperature = self.rng.uniform(36, 48)
        self.voltage = self.rng.uniform(23.8, 24.4)
        self.holds: dict[str, tuple[float, float | None]] = {}  # gauge -> (value, until or None)
        self.spikes: dict[str, tuple[float, float | None]] = {}  # interface name -> (factor, until or None)
        self.subscribers = (0.0, 0.0)  # the live sessions' summed (upload, download) bytes per second

    # -- gauges ------------------------------------------------------------------
    def gauge(self, name: str) -> float:
        """A gauge's current value: the held one while a hold lasts, else the walk."""
        held = self.holds.get(name)
        if held is not None and (held[1] is None or self.state.last_sync < held[1]):
            return held[0]
        return getattr(self, name.replace("-", "_"))

    def hold(self, values: dict[str, float], until: float | None) -> None:
        """Pin gauges (cpu-load %, free-memory bytes, memory-percent used, temperature C, voltage V)."""
        total = self.state.config.total_memory
        pinned = {}
        for name, value in values.items():
            name, value = name.replace("_", "-"), float(value)
            if name in ("memory-percent", "memory"):
                if not 0 <= value <= 100:
                    raise ValueError("memory-percent is 0..100")
                name, value = "free-memory", total * (1 - value / 100)
            if name not in GAUGES:
                raise ValueError("cannot hold %r (one of %s, memory-percent)" % (name, ", ".join(GAUGES)))
            if name == "cpu-load" and not 0 <= value <= 100:
                raise ValueError("cpu-load is 0..100")
            if name == "free-memory" and not 0 <= value <= total:
                raise ValueError("free-memory is 0..total-memory (%d)" % total)
            pinned[name] = (value, until)
        self.holds.update(pinned)

    def release(self, names: list[str] | None = None) -> None:
        """End holds (all when names is None); the walked values show again."""
        for name in list(self.holds) if names is None else names:
            name = name.replace("_", "-")
            self.holds.pop("free-memory" if name in ("memory-percent", "memory") else name, None)

    # -- interfaces --------------------------------------------------------------
    def rate(self, name: str) -> list[float]:
        """Current [rx, tx] bits per second of an interface (its own walk, before spikes and subscribers)."""
        if name not in self.rates:
            base = self.rng.uniform(20e3, 400e3) if name.startswith("ether") else self.rng.uniform(1e3, 30e3)
            self.bases[name] = (base, base * self.rng.uniform(0.2, 1.5))
            self.rates[name] = list(self.bases[name])
        return self.rates[name]

    def spike(self, name: str, factor: float, until: float | None) -> None:
        """Multiply an interface's traffic by factor until the simulated time until (None: until stopped)."""
        if factor < 0:
            raise ValueError("a spike factor is not negative")
        if factor == 1:
            self.spikes.pop(name, None)
        else:
            self.spikes[name] = (float(factor), until)

    def bps(self, iface: dict) -> tuple[float, float]:
        """What an interface carries now in bits per second (0 while it is not running)."""
        if iface.get("running") == "false":
            return 0.0, 0.0
        rx, tx = self.rate(str(iface.get("default-name") or iface["name"]))
        up, down = self.subscribers
        if iface.get("default-name") == WAN:
            rx, tx = rx + down * 8, tx + up * 8  # subscribers download through the WAN
        elif iface.get("default-name") == LAN:
            rx, tx = rx + up * 8, tx + down * 8
        spike = self.spikes.get(str(iface["name"]))
        if spike is not None:
            rx, tx = rx * spike[0], tx * spike[0]
        return rx, tx

    def refresh(self, iface: dict) -> None:
        """Recompute an interface's current rate at once (after a link change or a spike), without stepping."""
        if iface.get("type") != "pppoe-in":
            iface["_bps"] = self.bps(iface)

    def wrap_counters(self, iface: dict, bits: int, margin: float | None) -> dict[str, str]:
        """Make the byte counters `bits` wide and put them `margin` bytes below the wrap (default: 5 s of traffic)."""
        if bits not in (32, 64):
            raise ValueError("counters are 32 or 64 bits wide")
        if iface.get("type") == "pppoe-in":
            raise ValueError("%s is a PPPoE session's interface" % iface["name"])
        top = 2 ** bits
        iface["_width"] = bits
        rates = iface.get("_bps") or self.bps(iface)
        for key, bps in zip(("rx", "tx"), rates, strict=True):
            gap = max(1, int(bps * 5 / 8)) if margin is None else int(margin)
            if not 0 < gap < top:
                raise ValueError("margin is 1..2**%d-1 bytes" % bits)
            iface["_%so" % key] = (top - gap) - int(iface.get("_" + key, 0.0))
        self.show_counters(iface)
        return {k: str(iface[k]) for k in ("rx-byte", "tx-byte")}

    @staticmethod
    def show_counters(iface: dict) -> None:
        """Print the byte and packet counters from the accumulated totals (bytes wrap at the counter width)."""
        top = 2 ** int(iface.get("_width", 64))  # type: ignore[call-overload]
        for key in ("rx", "tx"):
            got = iface.get("_" + key, 0.0)
            iface[key + "-byte"] = str((int(got) + int(iface.get("_%so" % key, 0))) % top)  # type: ignore[call-overload]
            iface[key + "-packet"] = str(int(got / AVG_PACKET) % top)  # type: ignore[operator]

    # -- time ----------------------------------------------------------------------
    def step(self, dt: float, t_end: float | None = None) -> None:
        """Advance every gauge and counter by dt simulated seconds, ending at t_end."""
        walk = self.rng.uniform
        pull, noise = min(1.0, dt / 120), min(1.0, dt / 5) ** 0.5  # the same drift per simulated minute at any tick
        up = down = 0.0
        for s in self.state.population.sessions():
            up, down = up + s["_rates"][0], down + s["_rates"][1]
        self.subscribers = (up, down)
        if t_end is not None:
            self._expire(t_end)
        for iface in self.state.menus["/interface"].items.values():
            if iface.get("type") == "pppoe-in":
                continue  # a session's own interface: the population keeps its counters
            key = str(iface.get("default-name") or iface["name"])
            rate, base = self.rate(key), self.bases[key]
            for i in (0, 1):  # a log-scale walk pulled back to the interface's own level
                level = math.log(rate[i]) + pull * (math.log(base[i]) - math.log(rate[i])) + walk(-0.15, 0.15) * noise
                rate[i] = min(max(math.exp(level), 500.0), 50e6)
            rx, tx = iface["_bps"] = self.bps(iface)
            if rx or tx:
                iface["_rx"] = iface.get("_rx", 0.0) + rx * dt / 8
                iface["_tx"] = iface.get("_tx", 0.0) + tx * dt / 8
                self.show_counters(iface)
        back = min(1.0, dt / 100)
        self.cpu_load = min(max(self.cpu_load + walk(-3, 3) * noise + (8 - self.cpu_load) * back, 0), 100)
        total = self.state.config.total_memory
        self.free_memory = min(max(self.free_memory + walk(-1, 1) * noise * total * 0.005, total * 0.3), total * 0.9)
        self.temperature = min(max(self.temperature + walk(-0.3, 0.3) * noise, 30), 70)
        self.voltage = min(max(self.voltage + walk(-0.05, 0.05) * noise + (24.1 - self.voltage) * back, 22.0), 26.0)
        self.update_queues(dt)

    def _expire(self, t: float) -> None:
        """Drop holds and spikes whose time is up."""
        for table in (self.holds, self.spikes):
            for key, (_, until) in list(table.items()):
                if until is not None and t >= until:
                    del table[key]

    def update_queues(self, dt: float) -> None:
        """Simple queues count bytes ("upload/download", as the target sees them).

        A queue whose target is a live session's address shows that session's counters. A queue
        on one other IP is a static subscriber who is always connected: it accumulates its own
        random-walk traffic, capped by max-limit, unless it is disabled or its IP sits in the
        `isp-suspended` address list.
        """
        by_addr = {str(s["address"]): s for s in self.state.population.sessions()}
        suspended = {_host(str(e.get("address"))) for e in self.state.menus[ADDRESS_LIST].items.values()
                     if e.get("list") == SUSPENDED and e.get("disabled") != "true"}
        for queue in self.state.menus["/queue/simple"].items.values():
            own = queue.get("_session")
            if own is not None:  # a RADIUS session's dynamic queue counts that session
                queue["rate"] = "%d/%d" % (own["_rates"][0] * 8, own["_rates"][1] * 8)
                queue["bytes"] = "%d/%d" % (own["_in"], own["_out"])
                queue["packets"] = "%d/%d" % (own["_in"] / AVG_PACKET, own["_out"] / AVG_PACKET)
                continue
            target = str(queue.get("target"))
            cached = queue.get("_host")
            if cached is None or cached[0] != target:  # type: ignore[index]
                cached = queue["_host"] = (target, _host(target))
            ip = cached[1]  # type: ignore[index]
            if ip is None or queue.get("disabled") == "true" or queue.get("dynamic") == "true":
                queue["rate"] = "0/0"
                continue
            s = by_addr.get(ip)
            if s is not None:
                queue["rate"] = "%d/%d" % (s["_rates"][0] * 8, s["_rates"][1] * 8)
                queue["bytes"] = "%d/%d" % (s["_in"], s["_out"])
                queue["packets"] = "%d/%d" % (s["_in"] / AVG_PACKET, s["_out"] / AVG_PACKET)
                continue
            if ip in suspended:
                queue["rate"] = "0/0"
                continue
            up, down = self.static_rates(queue)
            queue["_up"] = queue.get("_up", 0.0) + up * dt
            queue["_down"] = queue.get("_down", 0.0) + down * dt
            queue["rate"] = "%d/%d" % (up * 8, down * 8)
            queue["bytes"] = "%d/%d" % (queue["_up"], queue["_down"])
            queue["packets"] = "%d/%d" % (queue["_up"] / AVG_PACKET, queue["_down"] / AVG_PACKET)

    def static_rates(self, queue: dict) -> tuple[float, float]:
        """A static subscriber's [upload, download] bytes per second, walked and capped by max-limit."""
        walk = self.rng.uniform
        if "_rates" not in queue:
            queue["_rates"] = (walk(20e3, 200e3), walk(200e3, 2e6))
        caps = parse_pair(str(queue.get("max-limit") or "0/0")) or (0, 0)
        up, down = queue["_rates"]  # type: ignore[misc]
        up = min(max(up * walk(0.8, 1.25), 1e3), caps[0] / 8 or 2.5e6)
        down = min(max(down * walk(0.8, 1.25), 1e3), caps[1] / 8 or 2.5e6)
        queue["_rates"] = (up, down)
        return up, down

    def monitor(self, iface: dict) -> dict[str, str]:
        """One /interface/monitor-traffic row, jittered around the current rate."""
        if "_bps" not in iface:
            self.refresh(iface)
        rx, tx = iface.get("_bps", (0.0, 0.0)) if iface.get("running") != "false" else (0.0, 0.0)
        # Per real second, like the counters seen over real time: at --speed 10 the counters grow ten times as fast
        # as the simulated rate, so a poll's counter rate and this live rate agree (a frozen clock: the rate as is).
        speed = self.state.clock.speed or 1.0
        rx = int(rx * speed * self.jitter.uniform(0.9, 1.1))
        tx = int(tx * speed * self.jitter.uniform(0.9, 1.1))
        return {"name": str(iface["name"]),
                "rx-packets-per-second": str(rx // 8 // AVG_PACKET), "rx-bits-per-second": str(rx),
                "fp-rx-packets-per-second": "0", "fp-rx-bits-per-second": "0",
                "rx-drops-per-second": "0", "rx-errors-per-second": "0",
                "tx-packets-per-second": str(tx // 8 // AVG_PACKET), "tx-bits-per-second": str(tx),
                "fp-tx-packets-per-second": "0", "fp-tx-bits-per-second": "0",
                "tx-drops-per-second": "0", "tx-queue-drops-per-second": "0",
                "tx-errors-per-second": "0"}

    def resource(self, now: float) -> dict[str, str]:
        """The /system/resource row."""
        cfg = self.state.config
        return {"uptime": format_duration(now - self.state.boot_time),
                "version": "%s (stable)" % cfg.version, "build-time": "2025-10-01 10:00:00",
                "factory-software": "7.1" if cfg.version_tuple >= (7,) else "6.40",
                "free-memory": str(int(self.gauge("free-memory"))), "total-memory": str(cfg.total_memory),
                "cpu": "ARM64" if cfg.architecture == "arm64" else cfg.architecture,
                "cpu-count": str(cfg.cpu_count), "cpu-frequency": "1400",
                "cpu-load": str(int(self.gauge("cpu-load"))), "free-hdd-space": "956301312",
                "total-hdd-space": "1073741824", "write-sect-since-reboot": "1203",
                "write-sect-total": "58241", "bad-blocks": "0", "architecture-name": cfg.architecture,
                "board-name": cfg.board_name, "platform": "MikroTik"}

    def health(self) -> list[dict[str, str]]:
        """/system/health rows: one per sensor on v7, one flat row on v6, none on CHR."""
        cfg = self.state.config
        if "CHR" in cfg.board_name:
            return []
        temperature = self.gauge("temperature")
        volt, temp = "%.1f" % self.gauge("voltage"), "%d" % temperature
        if cfg.version_tuple < (7,):
            return [{"voltage": volt, "temperature": temp}]
        sensors = (("voltage", volt, "V"), ("temperature", temp, "C"),
                   ("cpu-temperature", "%d" % (temperature + 9), "C"))
        return [{".id": "*%X" % (i + 1), "name": n, "value": v, "type": t}
                for i, (n, v, t) in enumerate(sensors)]


def _host(target: str) -> str | None:
    """The single IPv4 address a queue target or list entry names ('10.0.0.5', '10.0.0.5/32'), else None."""
    if "," in target:
        return None
    try:
        net = ipaddress.IPv4Network(target.strip(), strict=False)
    except ValueError:
        return None
    return str(net.network_address) if net.prefixlen == 32 else None
