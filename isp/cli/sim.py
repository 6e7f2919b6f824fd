"""`flask sim ...`: the RouterOS simulator, imported only when the command runs."""
from __future__ import annotations

import click
from flask.cli import AppGroup


class LazySimGroup(AppGroup):
    """Lists `run` without importing the simulator; imports it only when `run` is invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return ["run"]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name != "run":
            return None
        from routeros_sim.cmdline import run_command

        return run_command


# The simulator needs no application context, so its plain click command is attached as is.
sim_cli = LazySimGroup("sim", help="Run the RouterOS API simulator (virtual MikroTik routers on loopback).")
