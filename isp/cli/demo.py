"""`flask demo` and the embedded Redis controls used by `make demo`."""
from __future__ import annotations

import os
import secrets

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from isp.extensions import db
from isp.models import Role, Router
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
    _register_demo_routers()
    db.session.flush()
    reseller_password = _seed_vouchers(user)
    db.session.commit()
    click.echo("")
    click.echo("  isp demo is ready")
    click.echo("  URL:      http://127.0.0.1:5000/")
    click.echo("  username: admin")
    click.echo(f"  password: {password}")
    if reseller_password:
        click.echo(f"  reseller: shop / {reseller_password}")
    click.echo("")


def _register_demo_routers() -> None:
    """Register (or refresh) the simulated routers of demo/fleet.toml."""
    import tomllib

    from isp.services import routers

    path = os.path.join(os.path.dirname(current_app.root_path), "demo", "fleet.toml")
    with open(path, "rb") as handle:
        fleet = tomllib.load(handle)
    defaults = fleet.get("defaults", {})
    for index, entry in enumerate(fleet["router"]):
        data = {
            "name": entry["name"], "addresses": "127.0.0.1", "api_port": fleet["fleet"]["base_port"] + index,
            "username": defaults["username"], "password": defaults["password"], "mode": "api", "enabled": True,
            "site": "Demo", "notes": "Simulated router (flask sim run --config demo/fleet.toml)", "max_sessions": 20,
        }
        existing = db.session.scalar(db.select(Router).where(Router.name == entry["name"]))
        if existing:
            routers.update_router(existing, data)
        else:
            routers.create_router(data)


DEMO_PLANS = (
    # name, price, reseller price, validity, time quota, data quota, rate limit
    ("Quick 3 min", "0.50", "0.40", "3m", "", "", "1M/2M"),
    ("Hour pass", "1.00", "0.80", "1d", "20m", "", "2M/4M"),
    ("Day 200 MB", "2.00", "1.60", "1d", "", "200M", "4M/8M 8M/16M 3M/6M 16/16"),
)


def _seed_vouchers(admin) -> str | None:  # noqa: ANN001
    """Plans on every demo router, a funded reseller and two batches (once; returns the reseller's password)."""
    from isp.models import EntryKind, HotspotPlan
    from isp.services import branding, ledger, plans, resellers, vouchers

    if db.session.scalar(db.select(HotspotPlan.id).limit(1)) is not None:
        return None
    router_ids = list(db.session.scalars(db.select(Router.id).order_by(Router.id)))
    made = []
    for name, price, reseller_price, validity, quota, data, rate in DEMO_PLANS:
        made.append(plans.create_plan({"name": name, "price": price, "reseller_price": reseller_price, "validity": validity,
                                       "time_quota": quota, "data_quota": data, "rate_limit": rate, "shared_users": 1,
                                       "router_ids": router_ids}, admin))
    settings = branding.get()
    settings.business_name, settings.currency = "Demo WiFi Ltd", "$"
    for router in db.session.scalars(db.select(Router)):
        router.hotspot_dns = f"login.{router.name}.wifi"  # printed QR codes open http://<this>/login
    password = os.environ.get("ISP_DEMO_PASSWORD") or secrets.token_urlsafe(9)
    shop = users.find_by_username("shop") or resellers.create_reseller("shop", password, "Corner shop", [], admin)
    users.reset_password(shop, password)
    resellers.set_plans(shop, [p.id for p in made[1:]], admin)
    ledger.post(ledger.account_for(shop), EntryKind.topup, 100, "demo opening balance", admin)
    core = router_ids[0]
    vouchers.generate(admin, made[0].id, 120, core, prefix="Q", length=6, note="demo: expire within minutes")
    vouchers.generate(shop, made[1].id, 40, core, prefix="H", length=6, note="demo: reseller stock")
    vouchers.generate(shop, made[2].id, 30, core, prefix="D", length=6, note="demo: data quota")
    return password


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
