"""Fixtures of the RADIUS voucher and CoA tests: the radius tables emptied per test, a radius-mode router, a NAS peer."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from isp.extensions import db as _db
from isp.radius import models as radius_models
from tests.radius_vouchers.nas import Responder

SECRET = "nas-secret-\"$;[x"  # a shared secret with the characters that bite in scripts and logs
RADIUS_TABLES = [m.__table__ for m in (radius_models.RadCheck, radius_models.RadReply, radius_models.RadGroupCheck,
                                       radius_models.RadGroupReply, radius_models.RadUserGroup, radius_models.RadAcct,
                                       radius_models.RadPostAuth, radius_models.Nas)]


@pytest.fixture
def radius_db(app):
    """The radius tables (made by the migrations, wherever the radius bind puts them), empty at the start."""
    with app.app_context():
        for table in RADIUS_TABLES:
            _db.session.execute(table.delete())
        _db.session.commit()
        _db.session.remove()
    yield


@pytest.fixture
def responder():
    """A NAS peer answering Disconnect / CoA on a free loopback port, with the test's shared secret."""
    with Responder(SECRET) as peer:
        yield peer


@pytest.fixture
def radius_router(app, sim, make_router, radius_db, responder):
    """A radius-mode router on the simulator (its API serves the fallback kick) whose NAS secret is SECRET and
    whose RADIUS incoming port is the responder's."""
    router = make_router(sim.routers[0], mode="radius", radius_incoming_port=responder.port)
    app.config.update(RADIUS_COA_TIMEOUT=0.3, RADIUS_COA_RETRIES=1)
    with app.app_context():
        from isp import crypto
        from isp.models import Router

        row = _db.session.get(Router, router.id)
        if hasattr(row, "radius_secret_encrypted"):  # onboarded: packets go to the tunnel address (loopback here)
            row.tunnel_address, row.radius_secret_encrypted = "127.0.0.1", crypto.encrypt(SECRET)
        _db.session.add(radius_models.Nas(nasname="127.0.0.1", shortname=router.name, secret=SECRET))
        _db.session.commit()
    return SimpleNamespace(id=router.id, name=router.name, sim=sim.routers[0], responder=responder)
