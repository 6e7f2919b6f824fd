"""A faulty router's replies (malformed sentences, a trap without a message, !fatal, huge or endless replies,
invalid UTF-8, a connection closed mid-sentence) through the real pool, outbox worker and monitoring poll:
the command ends retried or dead with a reason, the worker returns in bounded time, and the pool still serves
a good router afterwards."""
from __future__ import annotations

import time
import tracemalloc

import pytest

from isp.extensions import db
from isp.models import CommandState, Router, RouterCommand
from isp.services import outbox
from tests.bad_input import fake_routeros as fake
from tests.bad_input.fake_routeros import FakeRouter, length, sentence, word
from tests.conftest import run_worker

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


@pytest.fixture
def fast(app):
    """A short reply deadline, so an endless reply is cut in seconds."""
    app.config["ROUTER_REPLY_DEADLINE"] = REPLY_DEADLINE
    return app


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


def _good_router_still_works(app, sim, make_router) -> None:
    """The pool is not wedged: a command to a healthy router goes through in the same worker."""
    good = make_router(sim.routers[0], name="healthy")
    cid = _queue(app, good.id, "after-the-fault")
    run_worker(app)
    assert _row(app, cid).state == CommandState.done, _row(app, cid).last_error
    assert "after-the-fault" in [r["name"] for r in sim.routers[0].state.rows("/ip/hotspot/user")]


@pytest.mark.parametrize("reply,reason", [c[1:] for c in REPLIES], ids=[c[0] for c in REPLIES])
def test_command_against_a_faulty_router(fast, sim, make_router, reply, reason):
    """The push ends retried or dead with the reason, in bounded time, and the next router is served."""
    app = fast
    with FakeRouter(reply) as box:
        bad = make_router(name="faulty", api_port=box.port)
        cid = _queue(app, bad.id, "alice")
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

        assert runtime.pool().stats(bad.id)[1] == 0  # no connection left lent out
    _good_router_still_works(app, sim, make_router)


def test_invalid_utf8_in_a_reply_does_not_crash_the_push(fast, sim, make_router):
    """Bytes that are not UTF-8 in a router's row are read (replaced), and the push completes."""
    app = fast
    with FakeRouter(_utf8_then_good) as box:
        bad = make_router(name="faulty", api_port=box.port)
        cid = _queue(app, bad.id, "alice")
        run_worker(app)
    assert _row(app, cid).state == CommandState.done, _row(app, cid).last_error
    _good_router_still_works(app, sim, make_router)


def test_login_trap_without_a_message_is_an_auth_error(fast, sim, make_router):
    """A router refusing the login with a bare !trap is reported as a refused login, not a crash."""
    app = fast
    with FakeRouter(login=fake.raw(sentence("!trap") + sentence("!done"), then="hang")) as box:
        bad = make_router(name="faulty", api_port=box.port)
        cid = _queue(app, bad.id, "alice")
        run_worker(app)
    row = _row(app, cid)
    assert row.state in (CommandState.failed, CommandState.dead)
    assert "login refused" in row.last_error, row.last_error
    _good_router_still_works(app, sim, make_router)


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
def test_monitoring_poll_of_a_faulty_router(fast, sim, make_router, reply):
    """The poll records a failed read with a reason, returns in bounded time, and the next poll of a good router works."""
    from isp.jobs.monitor import poll_router

    app = fast
    with FakeRouter(reply) as box:
        bad = make_router(name="faulty", api_port=box.port)
        started = time.monotonic()
        with app.app_context():
            result = poll_router(bad.id)
            router = db.session.get(Router, bad.id)
            last_error = router.last_error
        elapsed = time.monotonic() - started
    assert result != "ok" and result, result
    assert last_error, "the failed poll left no reason on the router"
    assert elapsed < 20, f"the poll took {elapsed:.1f} s"
    good = make_router(sim.routers[1], name="healthy")
    with app.app_context():
        assert poll_router(good.id) == "ok"


@pytest.mark.parametrize("reply,limit", [(fake.huge_word(50 * MB), 10 * MB), (fake.many_words(1_000_000), 10 * MB)],
                         ids=["50 MB word", "a million words"])
def test_huge_reply_memory_is_bounded(fast, reply, limit):
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
