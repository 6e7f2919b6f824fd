"""P10: Access-Request p95 against a real FreeRADIUS at 100,000 RADIUS users vs 1,000 (same run, same server).

A private FreeRADIUS (isp/radius/freeradius_conf.py: sql on the radius tables, session sql for
Simultaneous-Use, expiration, noresetcounter, post-auth sql) answers PAP Access-Requests for random
users. Each user has what our writers give a subscriber: Cleartext-Password and Expiration in radcheck,
a plan group in radusergroup (the group carries Mikrotik-Rate-Limit, Acct-Interim-Interval and
Simultaneous-Use := 1), a static Framed-IP-Address for one in ten, and one closed radacct session.
The users are inserted set-based (multi-row INSERTs in chunks). Two servers run side by side, one on
1,000 users and one on 100,000, and the requests alternate between them in blocks, so both see the same
machine load. Requests are RADIUS packets sent one at a time from pyrad (radclient's protocol, timed per
request without a process per packet).

SQLite by default (two temp files, WAL as the app uses); BENCH_DATABASE_URL (a throwaway MariaDB database:
its tables are dropped first, and a sibling `<name>_p10base` is created for the baseline) for MariaDB. `python bench/radiusbench/p10.py` prints the line.
"""
from __future__ import annotations

import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

SMALL, LARGE = 1_000, 100_000
REQUESTS = 3200  # measured per size, after WARMUP, in ROUNDS alternating blocks
ROUNDS = 32
WARMUP = 50
CHUNK = 5_000
GROUPS = 10
PASSWORD = "Bench-Radius-77"
LABEL = "Access-Request p95 at 100,000 RADIUS users vs 1,000, real FreeRADIUS, radclient"


def p95(values: list[float]) -> float:
    """95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, int(round(0.95 * len(ordered))) - 1)]


def _engine(url: str):
    """An engine on the radius tables themselves (the models' placeholder schema means none)."""
    from sqlalchemy import create_engine, event

    from isp.radius import models

    engine = create_engine(url).execution_options(schema_translate_map={models.RadCheck.__table__.schema: None})
    if url.startswith("sqlite"):
        @event.listens_for(engine.engine, "connect")
        def _wal(dbapi_conn, _record):  # as the app's SQLite connections
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            dbapi_conn.execute("PRAGMA busy_timeout=15000")
    return engine


def create_tables(engine) -> None:
    """The radius tables as our models declare them."""
    from isp.extensions import db
    from isp.radius import models  # noqa: F401

    db.metadatas["radius"].create_all(engine)


def add_groups(engine) -> None:
    """The plan groups every user belongs to one of."""
    from isp.radius.models import RadGroupCheck, RadGroupReply

    with engine.begin() as conn:
        conn.execute(RadGroupReply.__table__.insert(), [
            row for g in range(GROUPS) for row in (
                {"groupname": f"plan-{g}", "attribute": "Mikrotik-Rate-Limit", "op": ":=", "value": f"{g + 1}M/{2 * g + 2}M"},
                {"groupname": f"plan-{g}", "attribute": "Acct-Interim-Interval", "op": ":=", "value": "300"})])
        conn.execute(RadGroupCheck.__table__.insert(), [
            {"groupname": f"plan-{g}", "attribute": "Simultaneous-Use", "op": ":=", "value": "1"} for g in range(GROUPS)])


def add_users(engine, start: int, stop: int) -> None:
    """Users start..stop-1, set-based: one multi-row INSERT per table and chunk."""
    from isp.radius.freeradius_conf import EXPIRATION_FORMAT
    from isp.radius.models import RadAcct, RadCheck, RadReply, RadUserGroup

    expires = (datetime.now(UTC) + timedelta(days=30)).strftime(EXPIRATION_FORMAT)
    day = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=1)
    for lo in range(start, stop, CHUNK):
        names = [(n, f"sub{n:06d}") for n in range(lo, min(stop, lo + CHUNK))]
        with engine.begin() as conn:
            conn.execute(RadCheck.__table__.insert(), [
                row for _, u in names for row in (
                    {"username": u, "attribute": "Cleartext-Password", "op": ":=", "value": PASSWORD},
                    {"username": u, "attribute": "Expiration", "op": ":=", "value": expires})])
            conn.execute(RadUserGroup.__table__.insert(), [
                {"username": u, "groupname": f"plan-{n % GROUPS}", "priority": 1} for n, u in names])
            conn.execute(RadReply.__table__.insert(), [
                {"username": u, "attribute": "Framed-IP-Address", "op": ":=", "value": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"}
                for n, u in names if n % 10 == 0])
            conn.execute(RadAcct.__table__.insert(), [
                {"acctsessionid": f"{n:08x}", "acctuniqueid": secrets.token_hex(16), "username": u, "nasipaddress": "127.0.0.1",
                 "acctstarttime": day, "acctupdatetime": day + timedelta(hours=1), "acctstoptime": day + timedelta(hours=1),
                 "acctsessiontime": 3600, "acctinputoctets": 10_000_000, "acctoutputoctets": 90_000_000,
                 "acctterminatecause": "User-Request", "framedipaddress": "10.9.0.1"} for n, u in names])


def measure(conf, users: int, rng: random.Random, count: int, client=None) -> list[float]:
    """Seconds per Access-Request for `count` random users among the first `users` (each must be accepted)."""
    from isp.radius.freeradius_conf import make_client, request

    client = client or make_client(conf, timeout=5.0)
    out = []
    for _ in range(count):
        name = f"sub{rng.randrange(users):06d}"
        began = time.perf_counter()
        code, reply = request(conf, {"User-Name": name, "User-Password": PASSWORD, "NAS-IP-Address": "127.0.0.1"},
                              client=client)
        out.append(time.perf_counter() - began)
        if code != "Access-Accept" or "Mikrotik-Rate-Limit" not in reply:
            raise RuntimeError(f"{name}: {code} {reply}")
    return out


def databases(tmp: str) -> tuple[str, str]:
    """Two throwaway radius databases: SQLite files, or BENCH_DATABASE_URL and a sibling `<name>_p10base`."""
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp}/large.db", f"sqlite:///{tmp}/small.db"
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import _scale

    large = make_url(_scale.empty_database(url))
    small = large.set(database=f"{large.database}_p10base")
    server = create_engine(large.set(database=""))
    with server.begin() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{small.database}`"))
        conn.execute(text(f"CREATE DATABASE `{small.database}` CHARACTER SET utf8mb4"))
    server.dispose()
    return large.render_as_string(hide_password=False), small.render_as_string(hide_password=False)


def run() -> str:
    """Two FreeRADIUS servers side by side (1,000 and 100,000 users), requests alternating; returns the P10 line."""
    from contextlib import ExitStack

    from isp import create_app
    from isp.radius.freeradius_conf import FreeRadius, build, free_udp_ports, installed, make_client

    reason = installed()
    if reason:
        return f"P10: skipped ({reason})"
    tmp = tempfile.mkdtemp(prefix="isp-bench-p10-")
    large_url, small_url = databases(tmp)
    create_app({"SQLALCHEMY_DATABASE_URI": small_url, "SQLALCHEMY_BINDS": {"radius": small_url}})  # registers the models
    sizes, confs, grew = {"large": LARGE, "small": SMALL}, {}, 0.0
    with ExitStack() as stack:
        for key, url in (("large", large_url), ("small", small_url)):
            engine = _engine(url)
            create_tables(engine)
            add_groups(engine)
            began = time.perf_counter()
            add_users(engine, 0, sizes[key])
            grew = max(grew, time.perf_counter() - began)
            engine.dispose()
            auth, acct = free_udp_ports(2)
            confs[key] = build(os.path.join(tmp, f"raddb-{key}"), url, auth_port=auth, acct_port=acct,
                               secret=secrets.token_hex(12))
            stack.enter_context(FreeRadius(confs[key]))
        rng = random.Random(10)
        clients = {key: make_client(conf, timeout=5.0) for key, conf in confs.items()}
        for key in confs:  # warm both (connections, caches)
            measure(confs[key], sizes[key], rng, WARMUP, clients[key])
        times: dict[str, list[float]] = {"large": [], "small": []}
        for _ in range(ROUNDS):  # alternate, so both see the same machine load
            for key in confs:
                times[key] += measure(confs[key], sizes[key], rng, REQUESTS // ROUNDS, clients[key])
    small, large = times["small"], times["large"]
    ratio = p95(large) / p95(small)
    if os.environ.get("BENCH_VERBOSE"):
        print(f"  p95 {p95(small) * 1000:.2f} ms at {SMALL:,}, {p95(large) * 1000:.2f} ms at {LARGE:,}; "
              f"median {statistics.median(small) * 1000:.2f} / {statistics.median(large) * 1000:.2f} ms; "
              f"{LARGE:,} users inserted in {grew:.1f} s")
    return f"P10: {ratio:.2f}x ({LABEL})"


if __name__ == "__main__":
    print(run())
