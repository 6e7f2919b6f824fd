"""Fixtures for the RouterOS simulator tests: in-process fleets and clients."""

from __future__ import annotations

import pytest

from routeros_sim import Fleet, RouterConfig
from routeros_sim.tests.simclient import PASSWORD, RawClient, connect


@pytest.fixture(scope="module")
def fleet():
    """A quiet fleet with a frozen clock: a v7.20 router, a v7.16 one and a legacy v6 one."""
    configs = [RouterConfig(name="r720", password=PASSWORD),
               RouterConfig(name="r716", password=PASSWORD, version="7.16"),
               RouterConfig(name="r6", password=PASSWORD, version="6.40.1", legacy_login=True)]
    with Fleet(configs, speed=0, control_port=0) as running:
        yield running


@pytest.fixture(scope="module")
def router(fleet):
    """The v7.20 router of the module's fleet."""
    return fleet["r720"]


@pytest.fixture
def api(router):
    """A librouteros connection closed after the test."""
    conn = connect(router)
    yield conn
    conn.close()


@pytest.fixture
def raw(router):
    """A logged-in raw client closed after the test."""
    client = RawClient(router.port)
    client.login()
    yield client
    client.close()
