"""Router and fault configuration, plus the TOML fleet file loader."""

from __future__ import annotations

import math
import time
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

MAX_ROUTERS = 1000


@dataclass
class FaultConfig:
    """Fault switches; plain attributes, safe to assign from any thread at run time."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    down: bool = False  # refuse connections (the listener is closed)
    drop_mid_reply: float = 0.0  # probability that a reply is cut half way and the socket closed
    stall_ms: float = 0.0  # extra delay before a reply, meant to exceed a client timeout
    stall_ratio: float = 1.0  # fraction of replies that stall when stall_ms > 0
    trap_ratio: float = 0.0  # fraction of commands answered with a simulated trap
    flap: tuple[float, float] | None = None  # (down seconds, up seconds), repeating
    flap_since: float = 0.0

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "flap":
            # The cycle starts when the switch is thrown, so the first phase is always "down".
            value = tuple(float(v) for v in value) if value else None
            object.__setattr__(self, "flap_since", time.monotonic())
        object.__setattr__(self, name, value)

    def is_down(self, now: float | None = None) -> bool:
        """Whether the router refuses connections right now (down or in a flap's down phase)."""
        if self.down:
            return True
        if not self.flap:
            return False
        down_s, up_s = self.flap
        phase = ((now if now is not None else time.monotonic()) - self.flap_since) % (down_s + up_s)
        return phase < down_s

    def update(self, **values: Any) -> None:
        """Set several switches, rejecting unknown names."""
        known = {f.name for f in fields(self)} - {"flap_since"}
        for key, value in values.items():
            key = key.replace("-", "_")
            if key not in known:
                raise ValueError("unknown fault %r" % key)
            setattr(self, key, value)

    def as_dict(self) -> dict[str, Any]:
        """The switches as plain data (for stats and the control channel)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "flap_since"}


@dataclass
class RouterConfig:
    """Everything that makes one virtual router differ from its neighbours."""

    name: str = ""
    port: int = 0  # 0 picks a free port
    tls_port: int | None = 0  # None disables api-ssl
    username: str = "admin"
    password: str = ""
    version: str = "7.20.2"
    legacy_login: bool = False  # pre-6.43 challenge login
    max_sessions: int = 20
    seed: int = 0
    speed: float = 1.0  # the fleet clock uses the first router's speed unless given explicitly
    identity: str = ""
    board_name: str = "RB5009UG+S+"
    architecture: str = "arm64"
    cpu_count: int = 4
    total_memory: int = 1024 * 1024 * 1024
    ether_ports: int = 5
    clients: int = 0  # simulated subscribers that log in and out
    session_mean: float = 1800.0  # simulated seconds a client stays when no rule cuts it
    idle_mean: float = 600.0  # simulated seconds between a logout and the next login
    hotspot_users: int = 0  # seeded users named user1..N
    ppp_secrets: int = 0  # seeded secrets named ppp1..N
    radius_users: dict[str, str] = field(default_factory=dict)  # name -> password: living clients try these via RADIUS
    radius_incoming_port: int = 0  # UDP port for Disconnect/CoA (RouterOS: 3799); 0 picks a free port
    faults: FaultConfig = field(default_factory=FaultConfig)

    @property
    def version_tuple(self) -> tuple[int, ...]:
        """The version as comparable integers: '7.20.2' -> (7, 20, 2)."""
        out = []
        for part in self.version.split(" ")[0].split("."):
            digits = "".join(ch for ch in part if ch.isdigit())
            out.append(int(digits or 0))
        return tuple(out)

    @property
    def sends_empty(self) -> bool:
        """RouterOS 7.18 and later answer an empty print with !empty."""
        return self.version_tuple >= (7, 18)


def _check_type(owner: str, name: str, value: Any, default: Any) -> None:
    """Refuse a value of the wrong kind (a string port, a nan speed) with the setting's name."""
    if default is None or isinstance(default, tuple):
        return
    kind = type(default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not kind:
        raise ValueError("%s setting %r must be %s, not %r" % (owner, name, kind.__name__, value))
    if kind is float and not math.isfinite(value):
        raise ValueError("%s setting %r must be a finite number, not %r" % (owner, name, value))
    if kind in (int, float) and value < 0:
        raise ValueError("%s setting %r must not be negative, not %r" % (owner, name, value))


def router_from_dict(data: dict[str, Any]) -> RouterConfig:
    """Build a RouterConfig from TOML/JSON data, rejecting unknown keys and values of the wrong kind."""
    data = {k.replace("-", "_"): v for k, v in data.items()}
    faults = FaultConfig()
    fault_values = data.pop("faults", {})
    if not isinstance(fault_values, dict):
        raise ValueError("faults must be a table, not %r" % (fault_values,))
    defaults = FaultConfig().as_dict()
    for key, value in fault_values.items():
        _check_type("fault", key.replace("-", "_"), value, defaults.get(key.replace("-", "_")))
    faults.update(**fault_values)
    known = {f.name: f for f in fields(RouterConfig)}
    unknown = set(data) - set(known)
    if unknown:
        raise ValueError("unknown router setting(s): %s" % ", ".join(sorted(unknown)))
    sample = RouterConfig()
    for key, value in data.items():
        _check_type("router", key, value, getattr(sample, key))
        if key == "radius_users" and not all(isinstance(v, str) for v in value.values()):
            raise ValueError("router setting 'radius_users' maps user names to password strings")
        if key in ("port", "tls_port", "radius_incoming_port") and value is not None and not 0 <= value <= 65535:
            raise ValueError("router setting %r must be a port between 0 and 65535, not %r" % (key, value))
    return RouterConfig(faults=faults, **data)


def load_toml(path: str | Path) -> tuple[dict[str, Any], list[RouterConfig]]:
    """Read a fleet file: [fleet] options, [defaults] for every router, [[router]] entries."""
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:  # bad bytes too: name the file, not just the codec
        raise ValueError("%s is not valid TOML: %s" % (path, exc)) from None
    if not all(isinstance(doc.get(k, {}), dict) for k in ("fleet", "defaults")) or not isinstance(doc.get("router", []), list):
        raise ValueError("%s: [fleet] and [defaults] must be tables and [[router]] a list of tables" % path)
    fleet = {k.replace("-", "_"): v for k, v in doc.get("fleet", {}).items()}
    defaults = doc.get("defaults", {})
    routers: list[RouterConfig] = []
    for entry in doc.get("router", []):
        if not isinstance(entry, dict):
            raise ValueError("%s: each [[router]] must be a table" % path)
        merged = {**defaults, **entry}
        merged["faults"] = {**defaults.get("faults", {}), **entry.get("faults", {})}
        count = merged.pop("count", 1)
        if type(count) is not int or not 1 <= count <= MAX_ROUTERS:
            raise ValueError("%s: router count must be a whole number from 1 to %d, not %r" % (path, MAX_ROUTERS, count))
        base = merged.get("name", "")
        for i in range(count):
            one = dict(merged, faults=dict(merged["faults"]))
            if count > 1:
                one["name"] = "%s-%d" % (base or "sim", i + 1)
            routers.append(router_from_dict(one))
    return fleet, routers
