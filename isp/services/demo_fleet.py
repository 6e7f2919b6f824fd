"""The simulated routers of demo/fleet.toml: `flask demo` registers them, demo traffic touches only them."""
from __future__ import annotations

import os
import tomllib

from flask import current_app
from sqlalchemy import select

from isp.extensions import db
from isp.models import Router

ADDRESS = "127.0.0.1"


def fleet_path() -> str:
    return os.path.join(os.path.dirname(current_app.root_path), "demo", "fleet.toml")


def entries(path: str | None = None) -> list[dict]:
    """Each demo router as the panel registers it: name, address, API port, and the fleet's API login."""
    with open(path or fleet_path(), "rb") as handle:
        fleet = tomllib.load(handle)
    defaults = fleet.get("defaults", {})
    return [{"name": entry["name"], "address": ADDRESS, "api_port": fleet["fleet"]["base_port"] + index,
             "username": defaults["username"], "password": defaults["password"]}
            for index, entry in enumerate(fleet["router"])]


def routers() -> list[Router]:
    """Registered routers that are the demo's own simulated ones (same name, loopback address and port).

    A router an operator adds during the demo, even one named like a demo router, never matches.
    """
    wanted = {(e["name"], e["api_port"]) for e in entries()}
    rows = db.session.scalars(select(Router).where(Router.name.in_([name for name, _ in wanted]), Router.enabled.is_(True)))
    return [r for r in rows if (r.name, r.api_port) in wanted and r.addresses == [ADDRESS]]
