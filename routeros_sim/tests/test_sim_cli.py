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


def _run(*args):
    from click.testing import CliRunner

    return CliRunner().invoke(run_command, list(args))


@pytest.mark.parametrize("args,message", [
    (["--routers", "0"], "--routers must be a whole number from 1 to 1000"),
    (["--routers", "-3"], "--routers must be a whole number from 1 to 1000"),
    (["--speed", "nan"], "--speed must be a finite number above 0"),
    (["--speed", "inf"], "--speed must be a finite number above 0"),
    (["--speed", "0"], "--speed must be a finite number above 0"),
    (["--latency-ms", "-1"], "--latency-ms must be a finite number of 0 or more"),
    (["--base-port", "70000"], "--base-port must be a port number from 0 to 65535"),
    (["--base-port", "65535", "--routers", "2", "--tls-base-port", "-1"], "API port must be a port number from 0 to 65535"),
    (["--tls-base-port", "-5"], "--tls-base-port must be a port number from -1 to 65535"),
    (["--control-port", "99999"], "--control-port must be a port number from 0 to 65535"),
    (["--users", "-1"], "--users must be a whole number from 0 to 1000000"),
])
def test_bad_options_are_one_clear_line_and_exit_code_2(args, message):
    result = _run("--base-port", "0", "--clients", "0", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("text,message", [
    ("[[router]\nname = 'x'\n", "is not valid TOML"),
    ("[fleet]\nspeed = nan\n", "--speed must be a finite number above 0"),
    ("[fleet]\nrouters = 0\n", "--routers must be a whole number"),
    ("[[router]]\nport = 'abc'\n", "router setting 'port' must be int"),
    ("[[router]]\nport = 99999\n", "must be a port between 0 and 65535"),
    ("[[router]]\ncount = 0\n", "router count must be a whole number from 1"),
    ("[[router]]\nfaults = { latency_ms = 'slow' }\n", "fault setting 'latency_ms' must be float"),
    ("router = 5\n", "must be tables"),
])
def test_a_bad_fleet_file_is_a_clear_error_not_a_traceback(tmp_path, text, message):
    path = tmp_path / "fleet.toml"
    path.write_text(text)
    result = _run("--base-port", "0", "--config", str(path))
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("text", ["{not json", '{"routers": {"sim-1": 5}}', "[1, 2]"])
def test_a_bad_state_file_is_a_clear_error_and_is_left_alone(tmp_path, text):
    state = tmp_path / "state.json"
    state.write_text(text)
    result = _run("--base-port", "0", "--clients", "0", "--state", str(state))
    assert result.exit_code == 2, result.output
    assert "cannot be loaded" in result.output and "Traceback" not in result.output
    assert state.read_text() == text
    missing = _run("--base-port", "0", "--state", str(tmp_path / "no-such-dir" / "state.json"))
    assert missing.exit_code == 2 and "its directory does not exist" in missing.output


def test_a_port_in_use_is_a_clear_error(tmp_path):
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        state = tmp_path / "state.json"
        result = _run("--base-port", str(taken.getsockname()[1]), "--tls-base-port", "-1", "--clients", "0",
                      "--state", str(state))
    finally:
        taken.close()
    assert result.exit_code == 2, result.output
    assert "already in use" in result.output and "Traceback" not in result.output
    assert not state.exists()  # nothing ran, so nothing was saved
