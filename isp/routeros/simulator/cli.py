"""Flask CLI group: `flask sim run ...`."""

from __future__ import annotations

from flask.cli import AppGroup

from .cmdline import run_command

sim_cli = AppGroup("sim", help="Run the RouterOS API simulator (virtual MikroTik routers on loopback).")
# The simulator needs no application context, so the plain click command is attached as is.
sim_cli.add_command(run_command, "run")
