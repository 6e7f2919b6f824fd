"""`flask demo` and the embedded Redis controls used by `make demo`."""
from __future__ import annotations

import os
import secrets

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from isp.extensions import db
from isp.models import Role
from isp.services import users

embedded_redis_cli = AppGroup("embedded-redis", help="Start or stop the embedded Redis of the default profile.")


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Prepare demo data: the admin account (password printed once, or ISP_DEMO_PASSWORD)."""
    password = os.environ.get("ISP_DEMO_PASSWORD") or secrets.token_urlsafe(12)
    user = users.find_by_username("admin")
    if user is None:
        user = users.create_user("admin", password, Role.admin, "Demo admin")
    else:
        users.reset_password(user, password)
        users.set_active(user, True)
        users.change_role(user, Role.admin)
    db.session.commit()
    click.echo("")
    click.echo("  isp demo is ready")
    click.echo("  URL:      http://127.0.0.1:5000/")
    click.echo("  username: admin")
    click.echo(f"  password: {password}")
    click.echo("")


@embedded_redis_cli.command("start")
@with_appcontext
def start_redis() -> None:
    """Start the embedded Redis (no-op if REDIS_URL is set or it already runs)."""
    if current_app.config["REDIS_URL"]:
        click.echo("REDIS_URL is set; nothing to start.")
        return
    from isp.embedded_redis import ensure_embedded_redis

    click.echo(f"embedded redis at {ensure_embedded_redis(current_app.instance_path)}")


@embedded_redis_cli.command("stop")
@with_appcontext
def stop_redis() -> None:
    """Stop the embedded Redis, saving its data."""
    from isp.embedded_redis import stop_embedded_redis

    stopped = stop_embedded_redis(current_app.instance_path)
    click.echo("embedded redis stopped" if stopped else "embedded redis was not running")
