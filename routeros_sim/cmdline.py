"""The `run` command shared by `flask sim run` and `python -m routeros_sim`."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from click.core import ParameterSource

from .config import FaultConfig, RouterConfig, load_toml
from .fleet import Fleet

log = logging.getLogger(__name__)


def build_fleet(opts: dict, explicit: set[str]) -> Fleet:
    """Turn command-line options (and an optional TOML file) into a Fleet."""
    configs: list[RouterConfig] = []
    if opts["config_file"]:
        fleet_opts, configs = load_toml(opts["config_file"])
        for key, value in fleet_opts.items():
            if key not in explicit and key in opts:
                opts[key] = value
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
    fleet = Fleet(configs, speed=opts["speed"], control_port=opts["control_port"])
    if opts["state_file"] and Path(opts["state_file"]).exists():
        fleet.load(opts["state_file"])
        log.info("state loaded from %s", opts["state_file"])
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
@click.option("--users", type=int, default=20, show_default=True, help="Seeded hotspot users per router (half as many PPP secrets).")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), help="TOML fleet file.")
@click.option("--state", "state_file", type=click.Path(dir_okay=False), help="JSON file loaded at start and saved at exit.")
@click.option("--control-port", type=int, default=None, help="Port of the JSON control channel (off unless given).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]), help="debug logs every command.")
@click.pass_context
def run_command(ctx: click.Context, **opts: object) -> None:
    """Serve virtual MikroTik routers on 127.0.0.1 until Ctrl-C or SIGTERM."""
    logging.basicConfig(level=str(opts["log_level"]).upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    explicit = {k for k in opts if ctx.get_parameter_source(k) is ParameterSource.COMMANDLINE}
    fleet = build_fleet(dict(opts), explicit)
    try:
        fleet.run_forever()
    finally:
        if opts["state_file"]:
            fleet.save(str(opts["state_file"]))
            log.info("state saved to %s", opts["state_file"])
