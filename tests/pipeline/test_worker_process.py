"""Real worker processes: a hard kill mid-batch loses nothing; SIGTERM finishes the job first."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import redis

from isp.embedded_redis import ensure_embedded_redis, stop_embedded_redis
from isp.extensions import db
from isp.jobs.outbox import sweep_outbox
from isp.models import CommandState, RouterCommand
from tests.conftest import SIM_PASSWORD, make_test_app, run_worker
from tests.pipeline.helpers import queue_users, states

pytestmark = pytest.mark.slow
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def shared_redis(tmp_path):
    """A Redis reachable from other processes: TEST_REDIS_URL, or an embedded server."""
    url = os.environ.get("TEST_REDIS_URL")
    started = False
    if not url:
        url = ensure_embedded_redis(str(tmp_path))
        started = True
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url, client
    client.flushdb()
    if started:
        stop_embedded_redis(str(tmp_path))


@pytest.fixture
def slow_router():
    """A simulated router that answers every reply after 4 ms."""
    from routeros_sim import FaultConfig, Fleet, RouterConfig

    with Fleet([RouterConfig(name="slow", password=SIM_PASSWORD, tls_port=None, faults=FaultConfig(latency_ms=4))]) as fleet:
        yield fleet.routers[0]


def _worker(database_url: str, redis_url: str) -> subprocess.Popen:
    # Progress committed after every step, so a kill lands with part of the chunk visibly done.
    env = {**os.environ, "FLASK_APP": "wsgi", "DATABASE_URL": database_url, "REDIS_URL": redis_url, "LOG_LEVEL": "WARNING",
           "BULK_PROGRESS_SECONDS": "0"}
    env.pop("SECRET_KEY", None)  # same derived encryption key as the test app
    # Own session: the worker forks an RQ scheduler child, and a kill must take the whole group.
    return subprocess.Popen([sys.executable, "-m", "flask", "worker"], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill_group(worker: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(worker.pid, sig)
    except ProcessLookupError:
        pass


def _count(app, ids, state) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(RouterCommand).where(
            RouterCommand.id.in_(ids), RouterCommand.state == state))


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_worker_killed_mid_batch_replays_idempotently(_migrated, app, shared_redis, slow_router, make_router):
    redis_url, client = shared_redis
    real = make_test_app(_migrated, REDIS_CLIENT=client, BULK_CHUNK=400, OUTBOX_STUCK_AFTER=1.0, OUTBOX_SWEEP_GRACE=0)
    r = make_router(slow_router)
    names = [f"kill{n:03d}" for n in range(300)]
    ids = queue_users(real, r.id, names, bulk=True)
    worker = _worker(_migrated, redis_url)
    try:
        _wait(lambda: _count(real, ids, CommandState.done) >= 60, 30, "the worker to push part of the batch")
        _kill_group(worker, signal.SIGKILL)
        worker.wait(10)
    finally:
        _kill_group(worker, signal.SIGKILL)
    done_at_kill = _count(real, ids, CommandState.done)
    assert 60 <= done_at_kill < len(ids)
    assert _count(real, ids, CommandState.running) > 0  # claimed by the dead worker
    time.sleep(1.1)
    with real.app_context():
        swept = sweep_outbox()
    assert swept["reset"] == len(ids) - done_at_kill and swept["requeued"] == len(ids) - done_at_kill
    run_worker(real)
    assert set(states(real, ids).values()) == {"done"}
    on_router = [row["name"] for row in slow_router.state.rows("/ip/hotspot/user") if row["name"].startswith("kill")]
    assert sorted(on_router) == names  # every user exactly once


def test_sigterm_lets_the_current_job_finish(_migrated, app, shared_redis, slow_router, make_router):
    redis_url, client = shared_redis
    real = make_test_app(_migrated, REDIS_CLIENT=client, BULK_CHUNK=400)
    r = make_router(slow_router)
    ids = queue_users(real, r.id, [f"term{n:03d}" for n in range(120)], bulk=True)
    worker = _worker(_migrated, redis_url)
    try:
        _wait(lambda: _count(real, ids, CommandState.done) >= 10, 30, "the batch to start")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
    finally:
        _kill_group(worker, signal.SIGKILL)
    assert set(states(real, ids).values()) == {"done"}


def test_the_default_worker_keeps_one_process_for_urgent_work(_migrated, app, shared_redis):
    from rq import Worker

    redis_url, client = shared_redis
    worker = _worker(_migrated, redis_url)
    try:
        _wait(lambda: len(Worker.all(connection=client)) == 2, 30, "two workers to register")
        queue_sets = sorted(tuple(w.queue_names()) for w in Worker.all(connection=client))
        # A kick or an expiry never waits behind a bulk push: one process serves only critical and high.
        assert queue_sets == [("critical", "high"), ("critical", "high", "normal", "low", "bulk")]
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
    finally:
        _kill_group(worker, signal.SIGKILL)


def test_the_worker_exits_when_one_of_its_processes_dies(_migrated, app, shared_redis):
    from rq import Worker

    redis_url, client = shared_redis
    worker = _worker(_migrated, redis_url)
    try:
        _wait(lambda: len(Worker.all(connection=client)) == 2, 30, "two workers to register")
        urgent = next(w for w in Worker.all(connection=client) if w.queue_names() == ["critical", "high"])
        os.kill(urgent.pid, signal.SIGKILL)  # the urgent process crashes
        # The whole worker exits non-zero, so the platform restarts it rather than running without urgent service.
        assert worker.wait(30) != 0
    finally:
        _kill_group(worker, signal.SIGKILL)
