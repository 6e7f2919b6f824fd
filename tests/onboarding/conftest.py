"""Fixtures for onboarding: the radius tables (for the `nas` row), hub settings, and a router factory."""
from __future__ import annotations

import pytest
from sqlalchemy import delete

from isp.extensions import db as _db

HUB_PUBLIC = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="


@pytest.fixture(autouse=True)
def radius_tables(app):
    """The stock radius tables on the radius bind (created if its migrations have not), emptied after the test."""
    from isp.radius.models import Nas

    with app.app_context():
        _db.create_all(bind_key="radius")
    yield
    with app.app_context():
        _db.session.execute(delete(Nas))
        _db.session.commit()
        _db.session.remove()


@pytest.fixture
def hub(ctx):
    """Hub settings a setup script can be made from."""
    from isp.services import branding

    settings = branding.get()
    settings.hub_endpoint, settings.hub_public_key = "vpn.example.net:51820", HUB_PUBLIC
    _db.session.commit()
    return settings


def router_data(**fields) -> dict:
    """Form values for routers.create_router (blank password: the panel generates the login)."""
    data = {"name": "edge-1", "addresses": "192.168.88.1", "api_port": 8728, "username": "isp-panel", "password": "",
            "mode": "radius", "enabled": True, "max_sessions": 20}
    data.update(fields)
    return data
