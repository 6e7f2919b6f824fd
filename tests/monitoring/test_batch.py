"""The batched poll: a chunk of routers read concurrently and written together; poll_all queues each chunk once."""
from __future__ import annotations

import pytest
from rq.job import Job
from sqlalchemy import func, select

from isp import dispatch
from isp.extensions import db as _db
from isp.models import Router
from isp.models.monitoring import InterfaceSample, RouterInterface, RouterLogEntry, RouterSample
from tests.conftest import SIM_PASSWORD
from tests.monitoring.conftest import T0, set_counters


@pytest.fixture
def fleet():
    """Three simulated routers on one frozen clock."""
    from routeros_sim import Fleet, RouterConfig

    configs = [RouterConfig(name=f"b{n}", password=SIM_PASSWORD, tls_port=None, session_mean=1e12, idle_mean=1e12,
                            hotspot_users=1, ppp_secrets=1) for n in range(3)]
    with Fleet(configs, speed=0) as running:
        running.advance(3600)
        yield running


def test_a_batch_writes_each_routers_samples_while_one_router_of_it_is_down(app, fleet, make_router):
    from isp.jobs.monitor import poll_batch

    up = [make_router(sim).id for sim in fleet.routers]
    down = make_router(None, name="unreachable").id  # port 1: connection refused
    ids = [up[0], down, up[1], up[2]]
    with app.app_context():
        assert poll_batch(ids, now=T0) == {"ok": 3, "failed": 1, "skipped": 0}
    for sim in fleet.routers:
        set_counters(sim, "ether1", rx=10_000_000, tx=5_000_000)
    fleet.advance(10)
    with app.app_context():
        assert poll_batch(ids, now=T0 + 10) == {"ok": 3, "failed": 1, "skipped": 0}
    with app.app_context():
        samples = dict(_db.session.execute(select(RouterSample.router_id, func.count())
                                           .group_by(RouterSample.router_id)).tuples().all())
        assert samples == {up[0]: 2, up[1]: 2, up[2]: 2}
        routers = {r.id: r for r in _db.session.scalars(select(Router))}
        assert "refused" in routers[down].last_error and routers[down].last_seen_at is None
        for router_id, sim in zip(up, fleet.routers, strict=True):
            router = routers[router_id]
            assert router.last_error == "" and router.last_seen_at is not None and router.identity == sim.config.name
            ether1 = _db.session.scalar(select(RouterInterface).where(RouterInterface.router_id == router_id,
                                                                      RouterInterface.name == "ether1"))
            # each router's own counters gave its own rate (no mix-up of interface ids across the batch)
            rate = _db.session.get(InterfaceSample, (ether1.id, T0 + 10))
            assert rate is not None and rate.rx_bps > 0 and ether1.rx_bps == rate.rx_bps
            assert _db.session.scalar(select(func.count()).select_from(RouterLogEntry)
                                      .where(RouterLogEntry.router_id == router_id)) > 0


def test_poll_all_queues_each_chunk_of_routers_once(app, make_router, monkeypatch):
    from isp.jobs import monitor

    monkeypatch.setattr(monitor, "BATCH_SIZE", 2)
    ids = [make_router(None).id for _ in range(5)]
    make_router(None, enabled=False)
    with app.app_context():
        assert monitor.poll_all() == 3
        assert monitor.poll_all() == 0  # the chunks are still queued: nothing is queued twice
        redis = app.config["REDIS_CLIENT"]
        jobs = {job_id: Job.fetch(job_id, connection=redis) for job_id in monitor.chunks(ids)}
        # a batch is an id range: each router's job depends on its own id only
        assert {job_id: job.args[0] for job_id, job in jobs.items()} == {
            f"poll-batch-{key}": [i for i in ids if i // 2 == key] for key in {i // 2 for i in ids}}
        # disabling a router moves no other router to another job (no router is polled by two jobs at once)
        before = {i: job_id for job_id, (part,) in monitor.chunks(ids).items() for i in part}
        after = {i: job_id for job_id, (part,) in monitor.chunks(ids[1:]).items() for i in part}
        assert all(after[i] == before[i] for i in ids[1:])
        assert {job.origin for job in jobs.values()} == {dispatch.POLL_BATCH.queue}
        assert {job.func_name for job in jobs.values()} == {dispatch.POLL_BATCH.path}
