"""The outbox: collapse, idempotent replay, retries, dead letters, Redis-flush recovery."""
from __future__ import annotations

import random

from isp import dispatch
from isp.extensions import db, redis_store
from isp.jobs.outbox import sweep_outbox
from isp.models import CommandState, Priority, Router, RouterCommand
from isp.services import outbox
from tests.conftest import run_worker
from tests.pipeline.helpers import command, queue_users, states, user_names


def test_command_reaches_the_router_and_is_done(app, sim, make_router):
    r = make_router(sim.routers[0])
    [cid] = queue_users(app, r.id, ["alice"])
    run_worker(app)
    assert states(app) == {cid: "done"}
    assert "alice" in user_names(sim.routers[0])
    assert command(app, cid).result["action"] in ("added", "unchanged")


def test_duplicate_pending_commands_collapse_into_one_with_the_latest_payload(app, sim, make_router):
    r = make_router(sim.routers[0])
    with app.app_context():
        router = db.session.get(Router, r.id)
        first = outbox.queue_command(router, "hotspot_user.ensure", "hotspot_user:bob", {"attrs": {"name": "bob", "password": "old"}}, Priority.normal)
        second = outbox.queue_command(router, "hotspot_user.ensure", "hotspot_user:bob", {"attrs": {"name": "bob", "password": "new"}}, Priority.critical)
        db.session.commit()
        assert first.id == second.id
        assert db.session.scalar(db.select(db.func.count()).select_from(RouterCommand)) == 1
        assert second.priority == Priority.critical
    run_worker(app)
    row = next(u for u in sim.routers[0].state.rows("/ip/hotspot/user") if u["name"] == "bob")
    assert row["password"] == "new"


def test_replaying_a_done_command_changes_nothing(app, sim, make_router):
    r = make_router(sim.routers[0])
    [cid] = queue_users(app, r.id, ["carol"])
    run_worker(app)
    with app.app_context():
        from isp.jobs.router import execute_command

        assert execute_command(cid) == "skipped"
    # Re-asserting the same desired state is a no-op on the router, not a duplicate.
    [again] = queue_users(app, r.id, ["carol"])
    run_worker(app)
    assert command(app, again).result["action"] == "unchanged"
    assert user_names(sim.routers[0]).count("carol") == 1


def test_trap_is_retried_then_dead_with_the_routers_message(app, sim, make_router):
    r = make_router(sim.routers[0])
    with app.app_context():
        router = db.session.get(Router, r.id)
        cmd = outbox.queue_command(router, "hotspot_user.ensure", "hotspot_user:dave",
                                   {"attrs": {"name": "dave", "password": "x", "profile": "no-such-profile"}})
        db.session.commit()
        cid = cmd.id
    run_worker(app)
    row = command(app, cid)
    assert row.state == CommandState.dead
    assert row.attempts == app.config["RETRY_MAX"]
    assert "trap" in row.last_error and "profile" in row.last_error


def test_a_trap_keeps_the_connection_for_the_rest_of_the_chunk(app, sim, make_router):
    r = make_router(sim.routers[0])
    with app.app_context():
        router = db.session.get(Router, r.id)
        items = [("hotspot_user.ensure", f"hotspot_user:{n}", {"attrs": {"name": n, "password": "x", **extra}})
                 for n, extra in (("ok1", {}), ("bad", {"profile": "missing"}), ("ok2", {}))]
        ids = outbox.queue_bulk(router, items, group="g", chunk=10)
        db.session.commit()
    logins_before = sim.routers[0].stats.logins
    run_worker(app, promote_scheduled=False)
    assert sim.routers[0].stats.logins - logins_before == 1
    assert [states(app, ids)[i] for i in ids] == ["done", "failed", "done"]


def test_dead_command_can_be_retried_after_the_cause_is_fixed(app, sim, make_router):
    r = make_router(sim.routers[0])
    with app.app_context():
        router = db.session.get(Router, r.id)
        cmd = outbox.queue_command(router, "hotspot_user.ensure", "hotspot_user:erin",
                                   {"attrs": {"name": "erin", "password": "x", "profile": "gold"}})
        db.session.commit()
        cid = cmd.id
    run_worker(app)
    assert command(app, cid).state == CommandState.dead
    sim.routers[0].state.add("/ip/hotspot/user/profile", name="gold")
    with app.app_context():
        outbox.retry_dead(db.session.get(RouterCommand, cid))
        db.session.commit()
    run_worker(app)
    assert command(app, cid).state == CommandState.done
    assert "erin" in user_names(sim.routers[0])


def test_redis_flush_loses_nothing(app, sim, make_router):
    r = make_router(sim.routers[0])
    ids = queue_users(app, r.id, [f"flush{n}" for n in range(5)]) + queue_users(app, r.id, [f"fbulk{n}" for n in range(7)], bulk=True)
    with app.app_context():
        redis_store.client.flushdb()  # queues, jobs and schedules are gone
    run_worker(app)
    assert set(states(app, ids).values()) == {"pending"}
    app.config["OUTBOX_SWEEP_GRACE"] = 0
    with app.app_context():
        assert sweep_outbox()["requeued"] == len(ids)
    run_worker(app)
    assert set(states(app, ids).values()) == {"done"}
    names = user_names(sim.routers[0])
    assert all(f"flush{n}" in names for n in range(5)) and all(f"fbulk{n}" in names for n in range(7))


def test_sweep_leaves_rows_whose_job_is_still_queued(app, sim, make_router):
    r = make_router(sim.routers[0])
    ids = queue_users(app, r.id, ["queued1", "queued2"])
    app.config["OUTBOX_SWEEP_GRACE"] = 0
    with app.app_context():
        assert sweep_outbox()["requeued"] == 0
    run_worker(app)
    assert set(states(app, ids).values()) == {"done"}


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    rng = random.Random(1)
    delays = [dispatch.backoff(n, 2.0, 60.0, rng) for n in range(1, 8)]
    for n, delay in enumerate(delays, 1):
        ceiling = min(60.0, 2.0 * 2 ** (n - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert len({round(d, 6) for d in delays}) == len(delays)  # jittered, not lock-step


def test_jobs_are_enqueued_only_after_the_outer_commit(app, sim, make_router):
    """A savepoint inside the business transaction must not release the job early."""
    from rq import Queue

    r = make_router(sim.routers[0])
    with app.app_context():
        router = db.session.get(Router, r.id)
        outbox.queue_command(router, "hotspot_user.ensure", "hotspot_user:early", {"attrs": {"name": "early", "password": "x"}})
        assert Queue("high", connection=redis_store.client).count == 0  # savepoint released, not committed
        db.session.commit()
        assert Queue("high", connection=redis_store.client).count == 1
        outbox.queue_command(router, "hotspot_user.ensure", "hotspot_user:never", {"attrs": {"name": "never", "password": "x"}})
        db.session.rollback()
        assert Queue("high", connection=redis_store.client).count == 1


def test_a_row_handed_back_after_a_newer_command_took_its_item_is_discarded(app, make_router):
    """A claimed row that never ran (pool full, step aside, dead worker) must not land its older state later."""
    router = make_router()
    with app.app_context():
        target = db.session.get(Router, router.id)
        old = outbox.queue_command(target, "hotspot_user.ensure", "hotspot_user:x", {"attrs": {"name": "x", "disabled": "no"}})
        db.session.commit()
        old.state, old.open_key = CommandState.running, None  # what a worker's claim does
        db.session.commit()
        newer = outbox.queue_command(target, "hotspot_user.retire", "hotspot_user:x", {"name": "x", "action": "remove"})
        probe = outbox.queue_command(target, "router.test", "test:1", {})
        db.session.commit()
        probe.state, probe.open_key = CommandState.running, None
        old.state = probe.state = CommandState.pending
        live = outbox.settle_unclaimed([old, probe], "not run")
        db.session.commit()
        assert live == []
        assert old.state == CommandState.discarded and "superseded" in old.last_error
        assert probe.state == CommandState.discarded and newer.state == CommandState.pending
        assert newer.open_key == f"{router.id}:hotspot_user:x"
