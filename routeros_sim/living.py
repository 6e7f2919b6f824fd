"""The router's own vital signs: interface counters, CPU, memory, health sensors."""

from __future__ import annotations

import ipaddress
import random
from typing import TYPE_CHECKING

from .values import format_duration, parse_pair

if TYPE_CHECKING:
    from .state import RouterState

WAN, LAN = "ether1", "ether2"
ADDRESS_LIST, SUSPENDED = "/ip/firewall/address-list", "isp-suspended"
AVG_PACKET = 900  # bytes; turns byte rates into plausible packet rates


class Living:
    """Random walks that keep a router's counters and gauges moving."""

    def __init__(self, state: RouterState) -> None:
        cfg = state.config
        self.state = state
        self.rng = random.Random("%s:%s:living" % (cfg.seed, cfg.name))
        self.rates: dict[str, list[float]] = {}  # bits per second, [rx, tx]
        self.cpu_load = self.rng.uniform(2, 12)
        self.free_memory = cfg.total_memory * self.rng.uniform(0.55, 0.8)
        self.temperature = self.rng.uniform(36, 48)
        self.voltage = self.rng.uniform(23.8, 24.4)

    def rate(self, name: str) -> list[float]:
        """Current [rx, tx] bits per second of an interface."""
        if name not in self.rates:
            base = self.rng.uniform(20e3, 400e3) if name.startswith("ether") else self.rng.uniform(1e3, 30e3)
            self.rates[name] = [base, base * self.rng.uniform(0.2, 1.5)]
        return self.rates[name]

    def step(self, dt: float) -> None:
        """Advance every gauge and counter by dt simulated seconds."""
        walk = self.rng.uniform
        up = down = 0.0
        for s in self.state.population.sessions():
            up, down = up + s["_rates"][0], down + s["_rates"][1]
        for iface in self.state.menus["/interface"].items.values():
            if iface.get("type") == "pppoe-in":
                continue  # a session's own interface: the population keeps its counters
            name = str(iface["name"])
            rate = self.rate(iface.get("default-name") or name)
            rate[0] = min(max(rate[0] * walk(0.85, 1.18), 500.0), 50e6)
            rate[1] = min(max(rate[1] * walk(0.85, 1.18), 500.0), 50e6)
            rx, tx = rate
            if iface.get("default-name") == WAN:
                rx, tx = rx + down * 8, tx + up * 8  # subscribers download through the WAN
            elif iface.get("default-name") == LAN:
                rx, tx = rx + up * 8, tx + down * 8
            if iface.get("disabled") == "true":
                rx = tx = 0.0
            iface["running"] = "false" if iface.get("disabled") == "true" else "true"
            iface["_bps"] = (rx, tx)
            for key, bps in (("rx", rx), ("tx", tx)):
                got = iface.get("_" + key, 0.0) + bps * dt / 8
                iface["_" + key] = got
                iface[key + "-byte"] = str(int(got))
                iface[key + "-packet"] = str(int(got / AVG_PACKET))
        self.cpu_load = min(max(self.cpu_load + walk(-3, 3) + (8 - self.cpu_load) * 0.05, 0), 100)
        total = self.state.config.total_memory
        self.free_memory = min(max(self.free_memory + walk(-1, 1) * total * 0.005, total * 0.3), total * 0.9)
        self.temperature = min(max(self.temperature + walk(-0.3, 0.3), 30), 70)
        self.update_queues(dt)

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
        rx, tx = iface.get("_bps", (0.0, 0.0))
        rx, tx = int(rx * self.rng.uniform(0.9, 1.1)), int(tx * self.rng.uniform(0.9, 1.1))
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
                "free-memory": str(int(self.free_memory)), "total-memory": str(cfg.total_memory),
                "cpu": "ARM64" if cfg.architecture == "arm64" else cfg.architecture,
                "cpu-count": str(cfg.cpu_count), "cpu-frequency": "1400",
                "cpu-load": str(int(self.cpu_load)), "free-hdd-space": "956301312",
                "total-hdd-space": "1073741824", "write-sect-since-reboot": "1203",
                "write-sect-total": "58241", "bad-blocks": "0", "architecture-name": cfg.architecture,
                "board-name": cfg.board_name, "platform": "MikroTik"}

    def health(self) -> list[dict[str, str]]:
        """/system/health rows: one per sensor on v7, one flat row on v6, none on CHR."""
        cfg = self.state.config
        if "CHR" in cfg.board_name:
            return []
        volt, temp = "%.1f" % self.voltage, "%d" % self.temperature
        if cfg.version_tuple < (7,):
            return [{"voltage": volt, "temperature": temp}]
        sensors = (("voltage", volt, "V"), ("temperature", temp, "C"),
                   ("cpu-temperature", "%d" % (self.temperature + 9), "C"))
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
