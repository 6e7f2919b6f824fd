"""A line-based JSON control channel on loopback, and its client function."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .fleet import Fleet

log = logging.getLogger(__name__)


class ControlError(RuntimeError):
    """The simulator refused a control command."""


def handle(fleet: Fleet, cmd: dict[str, Any]) -> dict[str, Any]:
    """Apply one control command and return the JSON answer."""
    if "advance" in cmd:
        fleet.advance(float(cmd["advance"]))
    if "speed" in cmd:
        fleet.clock.speed = float(cmd["speed"])
    name = cmd.get("router")
    routers = fleet.routers if name in (None, "*") else [fleet[name]]
    if "set" in cmd:
        if name is None:
            raise ValueError("'set' needs a router name (or '*')")
        for router in routers:
            router.faults.update(**cmd["set"])
    if cmd.get("reboot"):
        for router in routers:
            router.reboot(float(cmd.get("downtime", 0)))
    refused = result = None
    if "login" in cmd:  # {"router": "sim-1", "login": "user5"}: a device logs in with that account now
        if len(routers) != 1:
            raise ValueError("'login' needs one router name")
        kind = str(cmd.get("kind", "hotspot"))
        if kind not in ("hotspot", "ppp"):
            raise ValueError("'kind' is hotspot or ppp")
        mac = cmd.get("mac")
        redial = bool(cmd.get("redial"))
        if "password" in cmd:  # local account first, else RADIUS (when the router uses it): the outcome comes back
            result = routers[0].radius_login(str(cmd["login"]), str(cmd["password"]), kind,
                                             None if mac is None else str(mac), cmd.get("method"), redial,
                                             float(cmd.get("timeout", 10.0)))
        else:
            refused = routers[0].login(str(cmd["login"]), kind, None if mac is None else str(mac), redial)
            if refused and not redial:
                raise ValueError(f"login refused: {refused}")
    ended = None
    if "logout" in cmd:  # {"router": "r", "logout": {"user": "alice"}} (or "session_id", "address")
        if len(routers) != 1 or not isinstance(cmd["logout"], dict):
            raise ValueError("'logout' needs one router name and an object: user, session_id and/or address")
        ended = routers[0].logout(**{k: str(v) for k, v in cmd["logout"].items()
                                     if k in ("user", "session_id", "address")})
    forced = on_demand(routers, cmd)
    if cmd.get("save"):
        fleet.save(cmd["save"])
    answer = {"ok": True, "time": fleet.clock.now(), "speed": fleet.clock.speed,
              "routers": [r.snapshot() for r in routers], **forced}
    if refused:  # a redial device stays and tries again; say why its first try failed
        answer["refused"] = refused
    if result is not None:
        answer["result"] = result
    if ended is not None:
        answer["ended"] = ended
    if cmd.get("sessions"):
        answer["sessions"] = {r.name: r.sessions() for r in routers}
    return answer


def _spec(cmd: dict[str, Any], key: str) -> dict[str, Any]:
    value = cmd[key]
    if not isinstance(value, dict) or not value.get("interface"):
        raise ValueError("'%s' takes an object with an interface" % key)
    return value


def on_demand(routers: list, cmd: dict[str, Any]) -> dict[str, Any]:
    """The monitoring switches: link, flap_link, hold/release, spike, wrap and log (see the README)."""
    out: dict[str, Any] = {}
    if any(k in cmd for k in ("link", "flap_link", "hold", "release", "spike", "wrap", "log")) and "router" not in cmd:
        raise ValueError("name a router (or '*')")
    for router in routers:
        if "link" in cmd:  # {"link": {"interface": "ether2", "running": false}}
            spec = _spec(cmd, "link")
            router.set_link(str(spec["interface"]), bool(spec.get("running", True)))
        if "flap_link" in cmd:  # {"flap_link": {"interface": "ether2", "down": 5, "up": 5, "count": 3}}; null stops all
            if cmd["flap_link"] is None:
                router.stop_flapping()
            else:
                spec = _spec(cmd, "flap_link")
                down = spec.get("down", 5.0)
                router.flap_link(str(spec["interface"]), None if down is None else float(down),
                                 float(spec.get("up", 5.0)), spec.get("count"))
        if "release" in cmd:  # {"release": ["cpu-load"]} or {"release": true}
            names = cmd["release"]
            router.release(*([] if names is True else [str(n) for n in names]))
        if "hold" in cmd:  # {"hold": {"cpu-load": 95}, "seconds": 300}
            if not isinstance(cmd["hold"], dict):
                raise ValueError("'hold' takes an object: gauge name -> value")
            seconds = cmd.get("seconds")
            router.hold({str(k): float(v) for k, v in cmd["hold"].items()},
                        None if seconds is None else float(seconds))
        if "spike" in cmd:  # {"spike": {"interface": "ether1", "factor": 10, "seconds": 120}}
            spec = _spec(cmd, "spike")
            seconds = spec.get("seconds")
            router.spike(str(spec["interface"]), float(spec.get("factor", 10.0)),
                         None if seconds is None else float(seconds))
        if "wrap" in cmd:  # {"wrap": {"interface": "ether1", "bits": 32, "margin": 1000}}
            spec = _spec(cmd, "wrap")
            margin = spec.get("margin")
            out.setdefault("counters", {})[router.name] = router.wrap_counters(
                str(spec["interface"]), int(spec.get("bits", 32)), None if margin is None else int(margin))
        if "log" in cmd:  # {"log": {"topics": "system,info", "message": "..."}}
            spec = cmd["log"]
            if not isinstance(spec, dict) or not spec.get("message"):
                raise ValueError("'log' takes an object with a message (and topics)")
            out.setdefault("log_ids", {})[router.name] = router.write_log(
                str(spec["message"]), str(spec.get("topics") or "system,info"))
    if cmd.get("forced"):  # {"router": "sim-1", "forced": true}: what is held, spiked, flapping, unplugged
        out["forced"] = {r.name: r.monitoring_state() for r in routers}
    return out


async def serve(fleet: Fleet, port: int) -> asyncio.AbstractServer:
    """Start the control server on 127.0.0.1:port."""
    loop = asyncio.get_running_loop()

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    cmd = json.loads(line)
                    # Router methods block on the loop, so run them off it.
                    answer = await loop.run_in_executor(None, handle, fleet, cmd)
                except (ValueError, KeyError, TypeError) as exc:
                    answer = {"ok": False, "error": str(exc)}
                writer.write(json.dumps(answer).encode() + b"\n")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    return await asyncio.start_server(client, "127.0.0.1", port, reuse_address=True)


def control(port: int, host: str = "127.0.0.1", timeout: float = 5.0, **cmd: Any) -> dict[str, Any]:
    """Send one command, e.g. control(18999, router="sim-1", set={"down": True})."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(json.dumps(cmd).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    answer = json.loads(data)
    if not answer.get("ok"):
        raise ControlError(answer.get("error", "control command failed"))
    return answer
