"""Running the simulator: the module entry point, the TOML fleet file and --state."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import librouteros
import pytest

from routeros_sim.cmdline import build_fleet, run_command

ROOT = Path(__file__).resolve().parents[2]

FLEET_TOML = """
[fleet]
speed = 5.0

[defaults]
password = "pw"
clients = 0

[[router]]
name = "core"
count = 2
version = "6.49.10"
legacy_login = true
[router.faults]
latency_ms = 25

[[router]]
name = "edge"
board_name = "CHR"
max_sessions = 3
faults = { flap = [30, 60] }
"""


def options(**over):
    opts = {"routers": 1, "base_port": 0, "tls_base_port": None, "username": "admin",
            "password": "", "seed": 0, "speed": 1.0, "latency_ms": 0.0, "ros_version": "7.20.2",
            "legacy_login": False, "clients": 0, "users": 0, "config_file": None,
            "state_file": None, "control_port": None, "log_level": "info"}
    opts.update(over)
    return opts


def test_toml_fleet_is_heterogeneous(tmp_path):
    path = tmp_path / "fleet.toml"
    path.write_text(FLEET_TOML)
    fleet = build_fleet(options(config_file=str(path)), explicit=set())
    cfgs = {r.name: r.config for r in fleet.routers}
    assert list(cfgs) == ["core-1", "core-2", "edge"]
    assert cfgs["core-2"].legacy_login and cfgs["core-2"].version == "6.49.10"
    assert cfgs["core-1"].faults.latency_ms == 25 and cfgs["edge"].faults.latency_ms == 0
    assert cfgs["edge"].faults.flap == (30.0, 60.0) and cfgs["edge"].max_sessions == 3
    assert fleet.clock.speed == 5.0 and cfgs["edge"].password == "pw"


def test_toml_rejects_unknown_settings(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[[router]]\nname = "x"\ncolour = "red"\n')
    with pytest.raises(ValueError, match="colour"):
        build_fleet(options(config_file=str(path)), explicit=set())


def test_help_lists_the_documented_options():
    text = run_command.get_help(run_command.make_context("run", ["--help"], resilient_parsing=True))
    for flag in ("--routers", "--base-port", "--tls-base-port", "--username", "--password", "--seed",
                 "--speed", "--latency-ms", "--version", "--config", "--state", "--control-port"):
        assert flag in text


@pytest.mark.slow
def test_module_entry_point_serves_routers_until_sigterm(tmp_path):
    state = tmp_path / "state.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "routeros_sim", "--routers", "2", "--base-port", "0",
         "--username", "admin", "--password", "secret", "--state", str(state), "--clients", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        header = proc.stdout.readline()
        assert header.split()[:3] == ["router", "api", "api-ssl"]
        ports = [int(proc.stdout.readline().split()[1]) for _ in range(2)]
        for port in ports:
            api = librouteros.connect("127.0.0.1", username="admin", password="secret", port=port,
                                      timeout=5)
            users = api.path("ip", "hotspot", "user")
            users.add(name="cli-user", password="x")
            assert "cli-user" in [u["name"] for u in users]
            api.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert "cli-user" in state.read_text()
