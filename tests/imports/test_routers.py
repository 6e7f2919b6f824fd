"""An import reaches the routers: after the commit, a worker puts active services on them and suspended ones disabled."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from isp.extensions import db as _db
from isp.models import Router, ServiceKind, ServicePlan
from tests.conftest import csrf_from, run_worker
from tests.imports.conftest import confirm_token, csv_bytes, upload

MENUS = ("/ppp/secret", "/ppp/active", "/ip/hotspot/user", "/ip/hotspot/active", "/queue/simple", "/ip/firewall/address-list")
FUTURE = (date.today() + timedelta(days=30)).isoformat()


def _wipe(sim_router):
    with sim_router.state.lock:
        for path in MENUS:
            menu = sim_router.state.menu(path)
            for item in list(menu.items.values()):
                if not item.get("_builtin"):
                    menu.delete(item)


def _rows(sim_router, path, key="name"):
    return {row.get(key): row for row in sim_router.state.rows(path)}


@pytest.fixture
def fleet_world(app, sim, make_router):
    sim_router = sim.routers[0]
    _wipe(sim_router)
    router = make_router(sim_router, name="core-1")
    with app.app_context():
        for name, kind in (("Home 10M", ServiceKind.pppoe), ("Office 20M", ServiceKind.static), ("Hotspot Day", ServiceKind.hotspot)):
            _db.session.add(ServicePlan(name=name, kind=kind, profile_name="isp-" + name.lower().replace(" ", "-"),
                                        price=Decimal("20.00"), rate_limit="2M/4M", routers=[_db.session.get(Router, router.id)]))
        _db.session.commit()
    yield sim_router
    _wipe(sim_router)


def test_imported_services_are_put_on_their_router_once_committed(app, client, auth, fleet_world):
    auth.login_as("operator")
    data = csv_bytes(
        f",Jane,,,,,,,,,,,pppoe,jane,pw-jane,Home 10M,core-1,,,{FUTURE},",
        f",Kim,,,,,,,,,,,static,kim,,Office 20M,core-1,10.30.0.9,,{FUTURE},",
        f",Bob,,,,,,,,,,,hotspot,bob,pw-bob,Hotspot Day,core-1,,,{FUTURE},",
        f",Cat,,,,,,,,,suspended,,pppoe,cat,pw-cat,Home 10M,core-1,,,{FUTURE},",
        ",Eve,,,,,,,,,,,pppoe,eve,pw-eve,Home 10M,core-1,,,,",
    )
    page = upload(client, data).get_data(as_text=True)
    run_worker(app)
    assert _rows(fleet_world, "/ppp/secret") == {}  # the dry run queued nothing
    client.post("/imports/confirm", data={"csrf_token": csrf_from(page), "token": confirm_token(page)})
    run_worker(app)
    secrets = _rows(fleet_world, "/ppp/secret")
    assert set(secrets) == {"jane", "cat"}  # eve is pending: nothing on the router yet
    assert (secrets["jane"]["password"], secrets["jane"]["profile"], secrets["jane"]["disabled"]) == ("pw-jane", "isp-home-10m", "false")
    assert secrets["cat"]["disabled"] == "true"
    assert _rows(fleet_world, "/ip/hotspot/user")["bob"]["password"] == "pw-bob"
    assert _rows(fleet_world, "/queue/simple")["isp-kim"]["target"] == "10.30.0.9/32"
    assert fleet_world.login("jane", "ppp") is None
