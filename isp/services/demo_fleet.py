"""The simulated routers of demo/fleet.toml: `flask demo` registers them, demo traffic touches only them."""
from __future__ import annotations

import os
import tomllib

from flask import current_app
from sqlalchemy import select

from isp.extensions import db
from isp.models import Router, User

ADDRESS = "127.0.0.1"


def fleet_path() -> str:
    return os.path.join(os.path.dirname(current_app.root_path), "demo", "fleet.toml")


def entries(path: str | None = None) -> list[dict]:
    """Each demo router as the panel registers it: name, address, API port, the fleet's API login, and its parent
    router's name ("" for none; the file's [panel.parents] table, which the simulator does not read)."""
    with open(path or fleet_path(), "rb") as handle:
        fleet = tomllib.load(handle)
    defaults = fleet.get("defaults", {})
    parents = fleet.get("panel", {}).get("parents", {})
    return [{"name": entry["name"], "address": ADDRESS, "api_port": fleet["fleet"]["base_port"] + index,
             "username": defaults["username"], "password": defaults["password"], "parent": parents.get(entry["name"], "")}
            for index, entry in enumerate(fleet["router"])]


def routers() -> list[Router]:
    """Registered routers that are the demo's own simulated ones (same name, loopback address and port).

    A router an operator adds during the demo, even one named like a demo router, never matches.
    """
    wanted = {(e["name"], e["api_port"]) for e in entries()}
    rows = db.session.scalars(select(Router).where(Router.name.in_([name for name, _ in wanted]), Router.enabled.is_(True)))
    return [r for r in rows if (r.name, r.api_port) in wanted and r.addresses == [ADDRESS]]


# -- the demo's WireGuard hub -------------------------------------------------------------------------------------
# The demo has no hub: its routers get loopback tunnel addresses (127.0.1.0/24, the radius router's stand-in
# reserved), so every onboarding page shows a complete setup script and Settings → WireGuard hub saves as it is.

DEMO_TUNNEL_RANGE, DEMO_HUB_ADDRESS = "127.0.1.0/24", "127.0.1.254"


def ensure_hub() -> None:
    """Fill the hub settings for the demo, before its routers are onboarded (a demo whose routers already have
    tunnel addresses keeps what it has: moving the range would strand them). Flushes; the caller commits."""
    from isp.services import branding, wireguard

    if db.session.scalar(select(Router.id).where(Router.tunnel_address.is_not(None)).limit(1)) is not None:
        return
    settings = branding.get()
    settings.hub_endpoint, settings.hub_public_key = "127.0.0.1:51820", wireguard.generate_keypair()[1]
    settings.tunnel_range, settings.hub_tunnel_address = DEMO_TUNNEL_RANGE, DEMO_HUB_ADDRESS
    settings.tunnel_reserved = RADIUS_NAS_ADDRESS  # the radius router's nas address, set by ensure_radius_router
    settings.radius_server_address = settings.panel_address = "127.0.0.1"
    db.session.flush()


# -- the radius-mode demo router (`make demo RADIUS=1`) ---------------------------------------------------------
# A fourth simulated router (demo/radius-fleet.toml, its own `flask sim run`) whose subscribers live in FreeRADIUS.
# Its `nas` row sits on a loopback address standing in for the WireGuard tunnel address: the simulator's NAS sends
# from the /radius src-address, so the demo FreeRADIUS (dynamic clients on 127.0.0.0/8) finds that row.

RADIUS_FLEET = "radius-fleet.toml"
RADIUS_NAS_ADDRESS = "127.0.1.1"
RADIUS_AUTH_PORT, RADIUS_ACCT_PORT = 18120, 18121
RADIUS_PLAN = "Radius PPPoE 10M"
RADIUS_SUBSCRIBERS = ("rad-amina", "rad-brian", "rad-chege")


def radius_unavailable() -> str | None:
    """Why the demo has no radius-mode router (None when it has one): not asked for, or FreeRADIUS missing."""
    from isp.radius.freeradius_conf import installed

    if os.environ.get("ISP_DEMO_RADIUS", "").strip() not in ("1", "true", "yes"):
        return "no RADIUS router in this demo (run `make demo RADIUS=1` for one)"
    reason = installed()
    return f"no RADIUS router in this demo: {reason}" if reason else None


def radius_entry() -> dict:
    """The radius demo router as the panel registers it (demo/radius-fleet.toml)."""
    path = os.path.join(os.path.dirname(fleet_path()), RADIUS_FLEET)
    with open(path, "rb") as handle:
        fleet = tomllib.load(handle)
    entry, defaults = fleet["router"][0], fleet.get("defaults", {})
    return {"name": entry["name"], "address": ADDRESS, "api_port": fleet["fleet"]["base_port"],
            "control_port": fleet["fleet"]["control_port"], "username": defaults["username"],
            "password": defaults["password"], "radius_incoming_port": entry["radius_incoming_port"]}


def ensure_radius_router(admin: User) -> Router:
    """Register the radius demo router (radius mode, its nas row on RADIUS_NAS_ADDRESS), a plan and three paid
    PPPoE subscribers on it (once); flushes, the caller commits."""
    from isp.models import RouterMode, ServicePlan
    from isp.services import onboarding, routers

    entry = radius_entry()
    data = {"name": entry["name"], "addresses": ADDRESS, "api_port": entry["api_port"], "username": entry["username"],
            "password": entry["password"], "mode": "api", "enabled": True, "site": "Demo", "max_sessions": 20,
            "radius_incoming_port": entry["radius_incoming_port"],
            "notes": "Simulated radius-mode router (demo/radius-fleet.toml): its users live in FreeRADIUS"}
    router = db.session.scalar(select(Router).where(Router.name == entry["name"]))
    if router is None:
        router = routers.create_router(data, admin)
    if router.tunnel_address != RADIUS_NAS_ADDRESS:
        if router.mode == RouterMode.radius:  # leave the nas row of the allocated address first
            routers.update_router(router, data, admin)
        router.tunnel_address = RADIUS_NAS_ADDRESS
        db.session.flush()
    routers.update_router(router, {**data, "mode": "radius"}, admin)
    onboarding.sync_nas(router)
    plan = db.session.scalar(select(ServicePlan).where(ServicePlan.name == RADIUS_PLAN))
    if plan is None:
        _radius_subscribers(admin, router)
    return router


def _radius_subscribers(admin: User, router: Router) -> None:
    """The plan on the radius router and its three paid subscribers (the radius back end writes their rows)."""
    from isp.services import billing, customers, service_plans, subscriptions

    plan = service_plans.create_plan({"name": RADIUS_PLAN, "kind": "pppoe", "price": "15.00", "period_unit": "month",
                                      "period_count": 1, "rate_limit": "5M/10M", "shared_users": 1,
                                      "router_ids": [router.id], "active": True}, admin)
    for n, username in enumerate(RADIUS_SUBSCRIBERS):
        customer = customers.create({"name": f"Radius demo {username[4:].title()}", "phone": f"+25471100{n:04d}"}, admin)
        billing.record_payment(customer, "15.00", "cash", None, "demo: paid up", admin)
        subscriptions.create(customer, {"plan_id": plan.id, "router_id": router.id, "username": username,
                                        "password": f"Radius-demo-{n + 1}-{username[4:]}"}, admin)


def radius_logins() -> list[tuple[str, str]]:
    """(username, password) of every PPPoE service on the radius demo router, for the simulated CPEs."""
    from isp import crypto
    from isp.models import ServiceKind, Subscription

    name = radius_entry()["name"]
    rows = db.session.execute(select(Subscription.username, Subscription.password_encrypted)
                              .join(Router, Router.id == Subscription.router_id)
                              .where(Router.name == name, Subscription.kind == ServiceKind.pppoe))
    return [(username, crypto.decrypt(token)) for username, token in rows]
