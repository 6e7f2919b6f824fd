"""The `run` command shared by `flask sim run` and `python -m routeros_sim`."""

from __future__ import annotations

import errno
import logging
import math
from pathlib import Path

import click
from click.core import ParameterSource

from .config import MAX_ROUTERS, FaultConfig, RouterConfig, load_toml
from .fleet import Fleet

log = logging.getLogger(__name__)


class SimUsageError(click.UsageError):
    """A bad option, file or port: one clear line and exit code 2, never a traceback."""


def _port(name: str, value: object, low: int = 0) -> None:
    if value is not None and (type(value) is not int or not low <= value <= 65535):
        raise ValueError("%s must be a port number from %d to 65535, not %r" % (name, low, value))


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check(opts: dict) -> None:
    """Validate the options after the TOML [fleet] table merged in (it can set any of them)."""
    if type(opts["routers"]) is not int or not 1 <= opts["routers"] <= MAX_ROUTERS:
        raise ValueError("--routers must be a whole number from 1 to %d, not %r" % (MAX_ROUTERS, opts["routers"]))
    speed, latency = opts["speed"], opts["latency_ms"]
    if not _finite(speed) or speed <= 0:
        raise ValueError("--speed must be a finite number above 0, not %r" % (speed,))
    if not _finite(latency) or latency < 0:
        raise ValueError("--latency-ms must be a finite number of 0 or more, not %r" % (latency,))
    for name, most in (("clients", 100_000), ("users", 1_000_000)):
        if type(opts[name]) is not int or not 0 <= opts[name] <= most:
            raise ValueError("--%s must be a whole number from 0 to %d, not %r" % (name, most, opts[name]))
    if type(opts["seed"]) is not int:
        raise ValueError("--seed must be a whole number, not %r" % (opts["seed"],))
    _port("--base-port", opts["base_port"])
    _port("--tls-base-port", opts["tls_base_port"], low=-1)
    _port("--control-port", opts["control_port"])
    opts.setdefault("radius_base_port", 0)
    _port("--radius-base-port", opts["radius_base_port"])


def build_fleet(opts: dict, explicit: set[str]) -> Fleet:
    """Turn command-line options (and an optional TOML file) into a Fleet; a bad value raises ValueError."""
    configs: list[RouterConfig] = []
    if opts["config_file"]:
        fleet_opts, configs = load_toml(opts["config_file"])
        for key, value in fleet_opts.items():
            if key not in explicit and key in opts:
                opts[key] = value
    _check(opts)
    if not configs:
        configs = [RouterConfig(username=opts["username"], password=opts["password"],
                                version=opts["ros_version"], legacy_login=opts["legacy_login"],
                                seed=opts["seed"], clients=opts["clients"],
                                hotspot_users=opts["users"], ppp_secrets=opts["users"] // 2,
                                faults=FaultConfig(latency_ms=opts["latency_ms"]))
                   for _ in range(opts["routers"])]
    tls_base = opts["tls_base_port"]
    if tls_base is None:
        tls_base = opts["base_port"] + 1000 if opts["base_port"] else 0
    for i, cfg in enumerate(configs):
        cfg.name = cfg.name or "sim-%d" % (i + 1)
        cfg.identity = cfg.identity or cfg.name
        if not cfg.port:
            cfg.port = opts["base_port"] + i if opts["base_port"] else 0
        if tls_base < 0:
            cfg.tls_port = None
        elif cfg.tls_port == 0:
            cfg.tls_port = tls_base + i if tls_base else 0
        if not cfg.radius_incoming_port and opts["radius_base_port"]:
            cfg.radius_incoming_port = opts["radius_base_port"] + i
        _port("router %s's API port" % cfg.name, cfg.port)
        _port("router %s's RADIUS incoming port" % cfg.name, cfg.radius_incoming_port)
        _port("router %s's api-ssl port" % cfg.name, cfg.tls_port)
    fleet = Fleet(configs, speed=opts["speed"], control_port=opts["control_port"])
    state = opts["state_file"]
    if state and Path(state).exists():
        try:
            fleet.load(state)
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            detail = exc.strerror if isinstance(exc, OSError) else exc
            raise ValueError("--state %s cannot be loaded (%s); fix or remove it" % (state, detail)) from None
        log.info("state loaded from %s", state)
    elif state and not Path(state).resolve().parent.is_dir():
        raise ValueError("--state %s: its directory does not exist, so the state could not be saved" % state)
    return fleet


@click.command("run")
@click.option("--routers", type=int, default=1, show_default=True, help="Number of routers.")
@click.option("--base-port", type=int, default=8728, show_default=True, help="API port of the first router (0: any free port).")
@click.option("--tls-base-port", type=int, default=None, help="api-ssl port of the first router [base-port + 1000; -1 disables].")
@click.option("--username", default="admin", show_default=True)
@click.option("--password", default="", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for deterministic behaviour.")
@click.option("--speed", type=float, default=1.0, show_default=True, help="Simulated seconds per real second.")
@click.option("--latency-ms", type=float, default=0.0, show_default=True, help="Added reply latency.")
@click.option("--version", "ros_version", default="7.20.2", show_default=True, help="RouterOS version to mimic.")
@click.option("--legacy-login", is_flag=True, help="Use the pre-6.43 challenge login.")
@click.option("--clients", type=int, default=10, show_default=True, help="Simulated subscribers per router.")
@click.option("--users", type=int, default=20, show_default=True,
              help="Seeded hotspot users per router (half as many PPP secrets).")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), help="TOML fleet file.")
@click.option("--state", "state_file", type=click.Path(dir_okay=False), help="JSON file loaded at start and saved at exit.")
@click.option("--radius-base-port", type=int, default=0, show_default=True,
              help="UDP port for Disconnect/CoA of the first router (0: any free port, shown in the table).")
@click.option("--control-port", type=int, default=None, help="Port of the JSON control channel (off unless given).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]), help="debug logs every command.")
@click.pass_context
def run_command(ctx: click.Context, **opts: object) -> None:
    """Serve virtual MikroTik routers on 127.0.0.1 until Ctrl-C or SIGTERM."""
    logging.basicConfig(level=str(opts["log_level"]).upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    explicit = {k for k in opts if ctx.get_parameter_source(k) is ParameterSource.COMMANDLINE}
    try:
        fleet = build_fleet(dict(opts), explicit)
    except (ValueError, TypeError) as exc:
        raise SimUsageError(str(exc)) from None
    bound = True
    try:
        fleet.run_forever()
    except OSError as exc:
        bound = False  # nothing ran: keep the state file as it was
        if exc.errno == errno.EADDRINUSE:
            raise SimUsageError("a port is already in use (%s); choose another --base-port or stop what holds it"
                                % (exc.strerror or exc)) from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise SimUsageError("not allowed to listen on a port (%s); ports below 1024 need privileges"
                                % (exc.strerror or exc)) from None
        raise SimUsageError("cannot listen: %s" % (exc.strerror or exc)) from None
    finally:
        if opts["state_file"] and bound:
            fleet.save(str(opts["state_file"]))
            log.info("state saved to %s", opts["state_file"])
