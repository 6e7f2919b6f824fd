"""Who the server talks to: nas rows added while it runs (dynamic clients), unknown sources, a changed secret
(restart, not HUP), and radclient itself."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest
from pyrad import packet
from pyrad.client import Client, Timeout
from sqlalchemy import update

from isp.extensions import db
from isp.radius.freeradius_conf import FreeRadius, build, dictionary, free_udp_ports
from isp.radius.models import Nas, RadCheck

PASSWORD = "Green-Anchor-19"


def login_from(radius, source: str, secret: str, name: str) -> str:
    """An Access-Request sent from a loopback address of our choice (as a router with that tunnel address)."""
    client = Client(server=radius.host, authport=radius.auth_port, secret=secret.encode(), dict=dictionary())
    client.timeout, client.retries = 1.0, 1
    client.bind((source, 0))
    request = client.CreateAuthPacket(code=packet.AccessRequest, User_Name=name)
    request["User-Password"] = request.PwCrypt(PASSWORD)
    try:
        return {2: "Access-Accept", 3: "Access-Reject"}.get(client.SendPacket(request).code, "other")
    except Timeout:
        return "no answer"


def test_a_nas_row_added_while_running_is_answered_without_a_restart(radius, rows):
    rows(RadCheck(username="router-user", attribute="Cleartext-Password", op=":=", value=PASSWORD))
    assert login_from(radius, "127.0.0.2", "tunnel-secret-2", "router-user") == "no answer"  # not a client yet

    rows(Nas(nasname="127.0.0.2", shortname="tower-2", type="other", secret="tunnel-secret-2"))

    assert login_from(radius, "127.0.0.2", "tunnel-secret-2", "router-user") == "Access-Accept", radius.log()
    # Another address with no nas row stays unknown: FreeRADIUS drops its packets.
    assert login_from(radius, "127.0.0.3", "tunnel-secret-2", "router-user") == "no answer"


def test_radclient_binary_talks_to_the_server(radius, rows):
    radclient = shutil.which("radclient")
    if not radclient:
        pytest.skip("radclient not installed: apt-get install freeradius-utils")
    rows(RadCheck(username="radclient-user", attribute="Cleartext-Password", op=":=", value=PASSWORD))

    # Fixed test values only: production code never shells out with user data (pyrad instead).
    out = subprocess.run([radclient, "-x", "-r", "1", "-t", "3", f"{radius.host}:{radius.auth_port}", "auth", radius.secret],
                         input=f'User-Name = "radclient-user", User-Password = "{PASSWORD}"\n',
                         capture_output=True, text=True, timeout=30)

    assert "Access-Accept" in out.stdout, out.stdout + out.stderr


def test_a_known_clients_new_secret_needs_a_restart_not_a_hup(radius, rows, tmp_path):
    rows(RadCheck(username="hup-user", attribute="Cleartext-Password", op=":=", value=PASSWORD),
         Nas(nasname="127.0.0.4", shortname="tower-4", type="other", secret="first-secret"))
    auth, acct = free_udp_ports(2)
    # read_clients only: the nas table is read once, at start.
    server = FreeRadius(build(tmp_path / "raddb", radius.db_url, auth_port=auth, acct_port=acct, secret="probe-secret"))
    server.start()
    try:
        own = type(radius)(radius.host, auth, acct, "probe-secret", radius.db_url, server)
        assert login_from(own, "127.0.0.4", "first-secret", "hup-user") == "Access-Accept", server.log()

        db.session.execute(update(Nas).where(Nas.nasname == "127.0.0.4").values(secret="second-secret"))
        db.session.commit()
        time.sleep(2.5)  # a HUP within 2 s of start is ignored outright
        os.kill(server.process.pid, signal.SIGHUP)
        time.sleep(1)
        assert login_from(own, "127.0.0.4", "second-secret", "hup-user") == "no answer"   # still the old secret
        assert login_from(own, "127.0.0.4", "first-secret", "hup-user") == "Access-Accept"

        server.restart()
        assert login_from(own, "127.0.0.4", "second-secret", "hup-user") == "Access-Accept", server.log()
    finally:
        server.stop()
