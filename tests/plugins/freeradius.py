"""A private FreeRADIUS for the tests: Debian's server on loopback, reading the test profile's radius database.

The `freeradius` fixture (session scope) skips BY NAME when the package is missing. It returns a
`RadiusServer`: host, auth_port, acct_port, secret, and `radclient(attrs, kind)` built on pyrad.
SQLite profile: the server's sql module opens the test database file itself (the radius bind is that
file); MariaDB profile: TEST_RADIUS_DATABASE_URL. Addresses 127.0.0.0/8 other than 127.0.0.1 are
dynamic clients looked up in `nas`, so a simulated router with a nas row on e.g. 127.0.0.2 is
answered without a restart. A dynamic client is remembered for 60 s (its `lifetime`): within that, a test
must not reuse an address with another secret. Radius tables are not emptied between tests (the `app`
fixture empties our bind only): a test that counts rows empties them first (see tests/radius_server).
"""
from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass

import pytest


@dataclass
class RadiusServer:
    """What a test needs of the running server."""

    host: str
    auth_port: int
    acct_port: int
    secret: str
    db_url: str
    server: object  # isp.radius.freeradius_conf.FreeRadius

    def radclient(self, attrs: dict, kind: str = "auth", timeout: float = 3.0) -> tuple[str, dict]:
        """Send one Access-Request ("auth") or Accounting-Request ("acct"); returns (code name, reply attributes).

        `User-Password` is given in clear (pyrad hides it); for CHAP merge in `chap(password)`.
        A reply attribute sent more than once maps to a list.
        """
        from pyrad.client import Timeout

        from isp.radius.freeradius_conf import request

        try:
            return request(self.server.conf, attrs, kind, timeout)
        except Timeout:
            raise AssertionError(f"FreeRADIUS did not answer; its log:\n{self.server.log()}") from None

    @staticmethod
    def chap(password: str) -> dict:
        """`CHAP-Password` and `CHAP-Challenge` attributes for a password."""
        from isp.radius.freeradius_conf import chap_attributes

        return chap_attributes(password)

    def log(self) -> str:
        """The server's recent log lines."""
        return self.server.log()


def ensure_radius_tables(url: str) -> None:
    """Create the radius bind's tables when nothing made them yet (checkfirst: a no-op once migrations did)."""
    from sqlalchemy import create_engine

    from isp.extensions import db
    from isp.radius import models

    engine = create_engine(url)
    try:
        # The models sit in a placeholder schema that each engine translates (isp/radius/binds.py).
        schema = models.RadCheck.__table__.schema
        db.metadatas["radius"].create_all(engine.execution_options(schema_translate_map={schema: None}))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def freeradius(_migrated):
    """A running private FreeRADIUS reading the test profile's radius database."""
    from isp.radius.freeradius_conf import FreeRadius, build, free_udp_ports, installed
    from tests.conftest import _binds

    reason = installed()
    if reason:
        pytest.skip(reason)
    url = _binds(_migrated)["radius"]
    ensure_radius_tables(url)
    auth_port, acct_port = free_udp_ports(2)
    secret = secrets.token_hex(12)
    with tempfile.TemporaryDirectory(prefix="isp-freeradius-") as directory:
        conf = build(directory, url, auth_port=auth_port, acct_port=acct_port, secret=secret,
                     dynamic_clients=("127.0.0.0/8",))
        server = FreeRadius(conf)
        server.start()
        try:
            yield RadiusServer(conf.host, auth_port, acct_port, secret, url, server)
        finally:
            server.stop()
