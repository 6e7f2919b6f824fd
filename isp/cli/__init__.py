"""CLI groups, one per area; registered on the app by create_app()."""
from __future__ import annotations

from flask import Flask


def init_cli(app: Flask) -> None:
    """Attach every command group to the app."""
    from isp.cli.audited import audited
    from isp.cli.backup import backup_cli
    from isp.cli.demo import demo_command, embedded_redis_cli
    from isp.cli.radius import radius_cli
    from isp.cli.sim import sim_cli
    from isp.cli.users import users_cli
    from isp.cli.vouchers import vouchers_cli
    from isp.cli.worker import clock_command, worker_command

    for command in (users_cli, demo_command, embedded_redis_cli, worker_command, clock_command, sim_cli,
                    vouchers_cli, radius_cli, backup_cli):
        app.cli.add_command(audited(command))  # what a command records says via=cli
