"""`flask sim`: the product reaches the simulator only through this command, lazily."""
import subprocess
import sys

from flask import Flask

from isp.cli.sim import sim_cli


def test_flask_group_exposes_run():
    app = Flask("sim-cli-test")
    app.cli.add_command(sim_cli)
    result = app.test_cli_runner().invoke(args=["sim", "run", "--help"])
    assert result.exit_code == 0 and "--routers" in result.output


def test_the_app_does_not_import_the_simulator():
    code = ("import sys; from isp import create_app; app = create_app({'TESTING': True}); "
            "app.cli.list_commands(None); print('routeros_sim' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("False")
