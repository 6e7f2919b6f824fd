"""The simulated router as a NAS against the real FreeRADIUS: its nas row, a subscriber's rows and a running fleet."""
from __future__ import annotations

import time

import pytest

NAS_ADDRESS = "127.0.0.23"  # the router's src-address: a dynamic client the server finds in `nas`
NAS_SECRET = "Sim-NAS-secret-7f3a"
PASSWORD = "Green-Lantern-19"
RATE = "5M/10M"


@pytest.fixture
def radius(freeradius, ctx):
    """The running server, radius tables emptied first, then the router's nas row (as onboarding writes it)."""
    from isp.extensions import db
    from isp.radius.models import Nas

    with db.engines["radius"].begin() as conn:
        for table in reversed(db.metadatas["radius"].sorted_tables):
            conn.execute(table.delete())
    db.session.add(Nas(nasname=NAS_ADDRESS, shortname="sim-nas", type="other", secret=NAS_SECRET))
    db.session.commit()
    yield freeradius
    db.session.remove()


@pytest.fixture
def subscriber(radius):
    """subscriber(name, password=PASSWORD, rate=RATE, interim=60): the rows a writer gives a plan member."""
    from isp.extensions import db
    from isp.radius.models import RadCheck, RadGroupReply, RadUserGroup

    groups: set[str] = set()

    def add(name: str, password: str = PASSWORD, rate: str = RATE, interim: int = 60) -> str:
        group = f"plan-{rate.replace('/', '-')}-{interim}"
        if group not in groups:
            groups.add(group)
            db.session.add_all([RadGroupReply(groupname=group, attribute="Mikrotik-Rate-Limit", op=":=", value=rate),
                                RadGroupReply(groupname=group, attribute="Acct-Interim-Interval", op=":=",
                                              value=str(interim))])
        db.session.add_all([RadCheck(username=name, attribute="Cleartext-Password", op=":=", value=password),
                            RadUserGroup(username=name, groupname=group, priority=1)])
        db.session.commit()
        return name

    return add


@pytest.fixture
def sim(radius):
    """A frozen-clock simulated router whose /radius points at the private FreeRADIUS from NAS_ADDRESS."""
    from routeros_sim import Fleet, RouterConfig

    fleet = Fleet([RouterConfig(name="sim-nas", identity="sim-nas")], speed=0)
    fleet["sim-nas"].use_radius(radius.host, NAS_SECRET, auth_port=radius.auth_port, acct_port=radius.acct_port,
                                src_address=NAS_ADDRESS, timeout="2s", interim="5m")
    with fleet:
        yield fleet["sim-nas"]


def radacct(predicate=None, timeout: float = 10.0):
    """radacct rows (fresh reads) once predicate(rows) holds, or the last read after timeout."""
    from sqlalchemy import select

    from isp.extensions import db
    from isp.radius.models import RadAcct

    deadline = time.monotonic() + timeout
    while True:
        db.session.remove()
        rows = list(db.session.scalars(select(RadAcct).order_by(RadAcct.radacctid)))
        if (predicate(rows) if predicate else rows) or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)
