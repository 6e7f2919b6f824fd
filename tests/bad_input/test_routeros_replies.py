"""A faulty router's replies (malformed sentences, a trap without a message, !fatal, huge or endless replies,
invalid UTF-8, a connection closed mid-sentence) through the real pool, outbox worker and monitoring poll:
the command ends retried or dead with a reason, the worker returns in bounded time, and the pool still serves
a good router afterwards."""
from __future__ import annotations

import itertools
import time
import tracemalloc

import pytest

from isp.extensions import db
from isp.models import CommandState, Router, RouterCommand
from isp.services import outbox
from tests.bad_input import fake_routeros as fake
from tests.bad_input.fake_routeros import FakeRouter, length, sentence, word
from tests.conftest import SIM_PASSWORD, run_worker

MB = 1024 * 1024
REPLY_DEADLINE = 1.0  # seconds one reply may take in these tests (ROUTER_REPLY_DEADLINE)


def _utf8_then_good(sock, words):
    """A print whose row carries bytes that are not UTF-8; everything else answered well."""
    if words[0].endswith("/print"):
        sock.sendall(sentence("!re", b"=.id=*7", b"=name=\xff\xfe\xc3(", b"=comment=\xed\xa0\x80") + sentence("!done"))
    else:
        fake.good(sock, words)


REPLIES = [
    ("bad length prefix", fake.raw(b"\xf8\x01\x02\x03\x04"), "protocol"),
    ("length prefix beyond any word", fake.raw(b"\xf0\xff\xff\xff\xff"), "protocol"),
    ("truncated word, then closed", fake.raw(length(100) + b"=name=ali"), "closed"),
    ("truncated word, then silent", fake.raw(length(100) + b"=name=ali", then="hang"), "timeout"),
    ("closed mid-sentence", fake.raw(word("!re") + word("=name=alice")), "closed"),
    ("word without '='", fake.raw(sentence("!re", "garbage") + sentence("!done"), then="hang"), "malformed reply word"),
    ("word with one '='", fake.raw(sentence("!re", "=name") + sentence("!done"), then="hang"), "malformed reply word"),
    ("unknown reply type", fake.raw(sentence("!weird", "=a=b"), then="hang"), "unknown reply type '!weird'"),
    ("empty sentence", fake.raw(b"\x00", then="hang"), "empty sentence"),
    ("trap without a message", fake.raw(sentence("!trap") + sentence("!done"), then="hang"), "trap: (no message"),
    ("trap with a category only", fake.raw(sentence("!trap", "=category=2") + sentence("!done"), then="hang"),
     "trap: (no message"),
    ("fatal", fake.raw(sentence("!fatal", "too many commands")), "router ended the session: too many commands"),
    ("fatal without a reason", fake.raw(sentence("!fatal")), "router ended the session"),
    ("reply that never ends", fake.endless, "timeout"),
    ("silence", fake.raw(b"", then="hang"), "timeout"),
    ("50 MB word", fake.huge_word(50 * MB), "protocol"),
    ("a million words in one sentence", fake.many_words(1_000_000), "protocol"),
]


@pytest.fixture(scope="module")
def fast(module_app, fleet):
    """One app for the module (each case adds its own faulty router), with a short reply deadline and socket
    timeout so an endless or silent reply is cut in a second."""
    module_app.config["ROUTER_REPLY_DEADLINE"] = REPLY_DEADLINE
    module_app.config["ROUTER_TIMEOUT"] = 0.5
    return module_app


_names = itertools.count(1)


def add_router(app, port: int, name: str = "") -> int:
    """A router on loopback at `port`, through the service (password sealed as in production)."""
    from isp.services import routers

    with app.app_context():
        router = routers.create_router({"name": name or f"faulty-{next(_names)}", "addresses": "127.0.0.1",
                                        "api_port": port, "username": "admin", "password": SIM_PASSWORD, "mode": "api",
                                        "enabled": True, "max_sessions": 20})
        db.session.commit()
        return router.id


@pytest.fixture(scope="module")
def healthy(fast, fleet):
    """A router on the simulator: what every case checks the pool still serves."""
    return add_router(fast, fleet.routers[0].port, "healthy")


@pytest.fixture
def faulty(fast):
    """add(reply) -> a running FakeRouter and its router id; afterwards its commands and queued jobs are dropped."""
    boxes: list[tuple[FakeRouter, int]] = []

    def add(reply=fake.good, login=None):
        box = FakeRouter(reply, login=login).__enter__()
        boxes.append((box, add_router(fast, box.port)))
        return boxes[-1]

    yield add
    with fast.app_context():
        for box, router_id in boxes:
            box.__exit__(None, None, None)
            db.session.execute(db.delete(RouterCommand).where(RouterCommand.router_id == router_id))
            db.session.get(Router, router_id).enabled = False
        db.session.commit()
    fast.config["REDIS_CLIENT"].flushdb()  # deferred jobs of this case's router, its breaker and stats


def _queue(app, router_id: int, name: str) -> int:
    with app.app_context():
        router = db.session.get(Router, router_id)
        cmd = outbox.queue_command(router, "hotspot_user.ensure", f"hotspot_user:{name}",
                                   {"attrs": {"name": name, "password": "pw-12345"}})
        db.session.commit()
        return cmd.id


def _row(app, command_id: int) -> RouterCommand:
    with app.app_context():
        row = db.session.get(RouterCommand, command_id)
        db.session.expunge(row)
        return row


def _good_router_still_works(app, sim_router, healthy: int) -> None:
    """The pool is not wedged: a command to a healthy router goes through in the same worker."""
    name = f"after-{next(_names)}"
    cid = _queue(app, healthy, name)
    run_worker(app)
    assert _row(app, cid).state == CommandState.done, _row(app, cid).last_error
    assert name in [r["name"] for r in sim_router.state.rows("/ip/hotspot/user")]


@pytest.mark.parametrize("reply,reason", [c[1:] for c in REPLIES], ids=[c[0] for c in REPLIES])
def test_command_against_a_faulty_router(fast, fleet, healthy, faulty, reply, reason):
    """The push ends retried or dead with the reason, in bounded time, and the next router is served."""
    app = fast
    _, bad = faulty(reply)
    cid = _queue(app, bad, "alice")
    started = time.monotonic()
    run_worker(app)
    elapsed = time.monotonic() - started
    row = _row(app, cid)
    assert row.state in (CommandState.failed, CommandState.dead), (row.state, row.last_error)
    assert reason.lower() in row.last_error.lower(), row.last_error
    assert "Traceback" not in row.last_error
    assert elapsed < 30, f"the worker took {elapsed:.1f} s"
    with app.app_context():
        from isp.routeros import runtime

        assert runtime.pool().stats(bad)[1] == 0  # no connection left lent out
    _good_router_still_works(app, fleet.routers[0], healthy)


def test_invalid_utf8_in_a_reply_does_not_crash_the_push(fast, fleet, healthy, faulty):
    """Bytes that are not UTF-8 in a router's row are read (replaced), and the push completes."""
    app = fast
    _, bad = faulty(_utf8_then_good)
    cid = _queue(app, bad, "alice")
    run_worker(app)
    assert _row(app, cid).state == CommandState.done, _row(app, cid).last_error
    _good_router_still_works(app, fleet.routers[0], healthy)


def test_login_trap_without_a_message_is_an_auth_error(fast, fleet, healthy, faulty):
    """A router refusing the login with a bare !trap is reported as a refused login, not a crash."""
    app = fast
    _, bad = faulty(login=fake.raw(sentence("!trap") + sentence("!done"), then="hang"))
    cid = _queue(app, bad, "alice")
    run_worker(app)
    row = _row(app, cid)
    assert row.state in (CommandState.failed, CommandState.dead)
    assert "login refused" in row.last_error, row.last_error
    _good_router_still_works(app, fleet.routers[0], healthy)


POLL = [
    ("bad length prefix", fake.raw(b"\xf8\x01\x02\x03\x04")),
    ("trap without a message", fake.raw(sentence("!trap", ".tag=res") + sentence("!done", ".tag=res"), then="hang")),
    ("word without '='", fake.raw(sentence("!re", "garbage", ".tag=res"), then="hang")),
    ("reply for an unknown tag", fake.raw(sentence("!re", "=a=b", ".tag=zzz"), then="hang")),
    ("reply that never ends", fake.endless),
    ("invalid UTF-8 everywhere", fake.raw(sentence("!re", b"=cpu-load=\xff\xfe", b".tag=res"), then="hang")),
    ("closed mid-sentence", fake.raw(word("!re") + word("=cpu-load=5"))),
]


@pytest.mark.parametrize("reply", [c[1] for c in POLL], ids=[c[0] for c in POLL])
def test_monitoring_poll_of_a_faulty_router(fast, healthy, faulty, reply):
    """The poll records a failed read with a reason, returns in bounded time, and the next poll of a good router works."""
    from isp.jobs.monitor import poll_router

    app = fast
    _, bad = faulty(reply)
    started = time.monotonic()
    with app.app_context():
        result = poll_router(bad)
        last_error = db.session.get(Router, bad).last_error
    elapsed = time.monotonic() - started
    assert result != "ok" and result, result
    assert last_error, "the failed poll left no reason on the router"
    assert elapsed < 20, f"the poll took {elapsed:.1f} s"
    with app.app_context():
        assert poll_router(healthy) == "ok"


@pytest.mark.parametrize("reply,limit", [(fake.huge_word(50 * MB), 10 * MB), (fake.many_words(1_000_000), 10 * MB)],
                         ids=["50 MB word", "a million words"])
def test_huge_reply_memory_is_bounded(reply, limit):
    """A huge reply is refused as it arrives: the client never holds more than a few MB of it."""
    from isp.routeros import client

    with FakeRouter(reply) as box:
        spec = client.RouterSpec(id=1, name="faulty", addresses=("127.0.0.1",), port=box.port, username="admin",
                                 password="x")
        api, _ = client.open_connection(spec, 2.0, reply_deadline=REPLY_DEADLINE)
        tracemalloc.start()
        try:
            with pytest.raises(Exception) as caught:
                tuple(api("/ip/hotspot/user/print"))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            client.close_quietly(api)
    assert client.classify(caught.value).kind == "protocol", caught.value
    assert peak < limit, f"peak {peak / MB:.1f} MB"
