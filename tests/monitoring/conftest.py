"""Fixtures for monitoring: a frozen-clock simulator registered in the panel, and helpers to poll it and set counters."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from isp.extensions import db as _db
from tests.conftest import SIM_PASSWORD

T0 = 1_767_225_600  # 2026-01-01 00:00 UTC: an hour boundary, for exact buckets


@pytest.fixture
def quiet_sim():
    """One simulated router on a frozen clock moved by hand (fleet.advance), fresh per test."""
    from routeros_sim import Fleet, RouterConfig

    with Fleet([RouterConfig(name="mon", password=SIM_PASSWORD, tls_port=None, session_mean=1e12, idle_mean=1e12,
                            hotspot_users=2, ppp_secrets=2)],
               speed=0) as fleet:
        fleet.advance(3600)  # up for an hour, so a reboot shows as uptime going down
        yield fleet


@pytest.fixture
def box(app, quiet_sim, make_router):
    """The simulated router registered in the panel: .sim (VirtualRouter), .fleet, .id."""
    router = make_router(quiet_sim.routers[0])
    return SimpleNamespace(sim=quiet_sim.routers[0], fleet=quiet_sim, id=router.id)


def poll(app, router_id, now):
    """One monitoring poll of the router at `now` (epoch seconds), as the worker runs it."""
    from isp.jobs.monitor import poll_router

    with app.app_context():
        return poll_router(router_id, now=now)


def set_counters(sim, name, rx=None, tx=None, running=None):
    """Set an interface's byte counters (and running flag) on the simulator, as the router would report them."""
    with sim.state.lock:
        iface = sim.state.menus["/interface"].by_name(name)
        for key, value in (("rx", rx), ("tx", tx)):
            if value is not None:
                iface[f"_{key}"] = float(value)
                iface[f"{key}-byte"] = str(value)
        if running is not None:
            iface["running"] = "true" if running else "false"


def interface(app, router_id, name):
    """A detached RouterInterface row."""
    from isp.models.monitoring import RouterInterface

    with app.app_context():
        row = _db.session.scalar(select(RouterInterface).where(RouterInterface.router_id == router_id,
                                                               RouterInterface.name == name))
        _db.session.expunge(row)
        return row


def iface_samples(app, interface_id):
    """{ts: (rx_bps, tx_bps)} of an interface's raw samples."""
    from isp.models.monitoring import InterfaceSample

    with app.app_context():
        rows = _db.session.execute(select(InterfaceSample.ts, InterfaceSample.rx_bps, InterfaceSample.tx_bps)
                                   .where(InterfaceSample.interface_id == interface_id))
        return {ts: (rx, tx) for ts, rx, tx in rows}
