"""What a test or the demo forces on a router for monitoring: link state, flaps, held gauges, spikes, counter wraps, log lines.

Every method is thread-safe (it takes the state lock) and first brings the router up to the
simulated time, so a change starts at the current simulated second.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .state import RouterState


class OnDemand:
    """Mixed into VirtualRouter; `self.state` is its RouterState."""

    state: RouterState

    def _now(self) -> float:
        self.state.sync(force=True)
        return self.state.last_sync

    def set_link(self, interface: str, running: bool = True) -> None:
        """Plug (running=True) or unplug an interface's cable: `running`, counters, link-downs and /log follow.

        This stops a flap on that interface. A disabled interface stays not running either way.
        """
        with self.state.lock:
            self.state.links.set_link(interface, bool(running), self._now())

    def flap_link(self, interface: str, down: float | None = 5.0, up: float = 5.0, count: int | None = None) -> None:
        """Flap the link: down for `down` s, up for `up` s, repeating (forever, or `count` times).

        The first down is now. `down=None` stops the flap and leaves the link up.
        """
        with self.state.lock:
            now = self._now()
            if down is None:
                self.state.links.stop(interface, now)
            else:
                self.state.links.flap(interface, float(down), float(up), None if count is None else int(count), now)

    def stop_flapping(self, interface: str | None = None) -> None:
        """Stop the flap on one interface (every one when None); links come back up."""
        with self.state.lock:
            self.state.links.stop(interface, self._now())

    def hold(self, values: dict[str, float] | None = None, seconds: float | None = None, **gauges: float) -> None:
        """Pin gauges for `seconds` simulated seconds (None: until released).

        Names: cpu-load (%), free-memory (bytes), memory-percent (% in use), temperature (C), voltage (V);
        `cpu_load=95` works as a keyword too. /system/resource and /system/health show the held value.
        """
        wanted = {**(values or {}), **gauges}
        if not wanted:
            raise ValueError("hold what? cpu-load, free-memory, memory-percent, temperature or voltage")
        if seconds is not None and float(seconds) <= 0:
            raise ValueError("seconds is positive (or None: until released)")
        with self.state.lock:
            now = self._now()
            self.state.living.hold(wanted, None if seconds is None else now + float(seconds))

    def release(self, *names: str) -> None:
        """End holds (every one when no name is given)."""
        with self.state.lock:
            self._now()
            self.state.living.release(list(names) or None)

    def spike(self, interface: str, factor: float = 10.0, seconds: float | None = None) -> None:
        """Multiply an interface's traffic by factor for `seconds` (None: until spike(interface, 1))."""
        if seconds is not None and float(seconds) <= 0:
            raise ValueError("seconds is positive (or None: until factor 1)")
        with self.state.lock:
            now = self._now()
            item = self.state.links.iface(interface)
            self.state.living.spike(str(item["name"]), float(factor), None if seconds is None else now + float(seconds))
            self.state.living.refresh(item)

    def wrap_counters(self, interface: str, bits: int = 32, margin: int | None = None) -> dict[str, str]:
        """Make rx-byte/tx-byte `bits` wide (32 or 64) and put them `margin` bytes below 2**bits.

        The default margin is 5 s of the interface's current traffic, so the next steps wrap
        the counters. Returns the printed rx-byte and tx-byte. A reboot puts them back to 0 (the
        width stays).
        """
        with self.state.lock:
            self._now()
            return self.state.living.wrap_counters(self.state.links.iface(interface), int(bits), margin)

    def write_log(self, message: str, topics: str = "system,info") -> str:
        """Append a /log line now; returns its .id."""
        if not message or not topics:
            raise ValueError("a log line needs a message and topics")
        with self.state.lock:
            self._now()
            return self.state.log.add(str(topics), str(message))

    def monitoring_state(self) -> dict[str, Any]:
        """What is forced right now: holds, spikes, flaps and unplugged links (plain data)."""
        with self.state.lock:
            living, links = self.state.living, self.state.links
            return {"holds": {k: {"value": v, "until": u} for k, (v, u) in living.holds.items()},
                    "spikes": {k: {"factor": f, "until": u} for k, (f, u) in living.spikes.items()},
                    "flaps": {k: {"down": f.down, "up": f.up, "count": f.count, "since": f.since}
                              for k, f in links.flaps.items()},
                    "unplugged": [str(i["name"]) for i in self.state.menus["/interface"].items.values()
                                  if i.get("_link_down")]}
