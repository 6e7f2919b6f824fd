"""`flask users …`: account administration from the shell."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from isp.extensions import db
from isp.models import Role
from isp.services import users
from isp.services.errors import ServiceError

users_cli = AppGroup("users", help="Manage staff and reseller accounts.")


@users_cli.command("create-admin")
@click.argument("username")
@click.option("--password", help="10-128 characters, not the username nor a common password; prompted for when absent.")
def create_admin(username: str, password: str | None) -> None:
    """Create an admin account."""
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = users.create_user(username, password, Role.admin)
    except ServiceError as err:
        db.session.rollback()
        raise click.ClickException(err.message) from None
    db.session.commit()
    click.echo(f"Admin '{user.username}' created.")


@users_cli.command("reset-2fa")
@click.argument("username")
def reset_2fa(username: str) -> None:
    """Reset an account's two-factor login (e.g. the last admin lost their phone); its sessions end."""
    from isp.services import audit, twofactor

    user = users.find_by_username(username)
    if user is None:
        raise click.ClickException(f"No account named '{username}'.")
    try:
        with audit.source("cli"):
            twofactor.admin_reset(None, user, via="cli")
    except ServiceError as err:
        db.session.rollback()
        raise click.ClickException(err.message) from None
    db.session.commit()
    click.echo(f"Two-factor login of '{user.username}' reset; their sessions ended. They log in with the password alone.")
