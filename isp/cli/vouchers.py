"""`flask vouchers …`: generate batches from the command line."""
from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from isp.extensions import db
from isp.models import HotspotPlan, Role, Router, User
from isp.services import vouchers
from isp.services.errors import ServiceError

vouchers_cli = AppGroup("vouchers", help="Hotspot vouchers: generate batches.")


def _actor(username: str | None) -> User:
    if username:
        user = db.session.scalar(select(User).where(func.lower(User.username) == username.lower()))
        if user is None or not user.active:
            raise click.BadParameter(f"no active user '{username}'", param_hint="--as")
        return user
    user = db.session.scalar(select(User).where(User.role == Role.admin, User.active.is_(True)).order_by(User.id))
    if user is None:
        raise click.ClickException("no active admin exists; create one (flask users create-admin) or pass --as USER")
    return user


@vouchers_cli.command("generate")
@click.option("--plan", "plan_name", required=True, help="Plan name.")
@click.option("--count", required=True, type=click.IntRange(1, vouchers.MAX_BATCH), help="1 to 10,000.")
@click.option("--router", "router_name", help="Router name (needed when the plan is sold on several).")
@click.option("--prefix", default="", help="Up to 8 letters or digits.")
@click.option("--length", default=8, type=int, show_default=True, help="Random characters per code.")
@click.option("--mode", type=click.Choice(["code", "userpass"]), default="code", show_default=True)
@click.option("--note", default="", help="Free text shown on the batch.")
@click.option("--as", "as_user", help="Generate as this user (a reseller pays from their balance). Default: the first admin.")
def generate_command(plan_name: str, count: int, router_name: str | None, prefix: str, length: int, mode: str, note: str,
                     as_user: str | None) -> None:
    """Generate a batch of vouchers and queue their push to the router."""
    plan = db.session.scalar(select(HotspotPlan).where(func.lower(HotspotPlan.name) == plan_name.strip().lower()))
    if plan is None:
        known = ", ".join(db.session.scalars(select(HotspotPlan.name).order_by(HotspotPlan.name))) or "none yet"
        raise click.BadParameter(f"no plan named '{plan_name}' (plans: {known})", param_hint="--plan")
    router_id = None
    if router_name:
        router_id = db.session.scalar(select(Router.id).where(func.lower(Router.name) == router_name.strip().lower()))
        if router_id is None:
            raise click.BadParameter(f"no router named '{router_name}'", param_hint="--router")
    try:
        batch = vouchers.generate(_actor(as_user), plan.id, count, router_id, mode, prefix, length, note)
    except ServiceError as err:
        db.session.rollback()
        raise click.ClickException(err.message) from None
    db.session.commit()
    click.echo(f"batch #{batch.id}: {count} × {plan.name} vouchers for {batch.router.name}; push queued on 'bulk'")
