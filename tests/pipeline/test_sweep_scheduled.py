"""The sweep and jobs that will never run: a retry whose scheduler died, a job started on a worker SIGKILLed before its claim."""
from __future__ import annotations

import time

from rq.job import Job, JobStatus

from isp.extensions import redis_store
from isp.jobs.outbox import sweep_outbox
from tests.conftest import run_worker
from tests.pipeline.helpers import command, queue_users, states, user_names


def test_an_overdue_scheduled_retry_is_requeued_and_runs_once(app, sim, make_router):
    r = make_router(sim.routers[0])
    sim.routers[0].faults.update(down=True)
    [cid] = queue_users(app, r.id, ["sched1"], bulk=True)  # a batch job schedules the retry under another id
    run_worker(app, promote_scheduled=False)  # the first attempt fails; its retry waits in the scheduled registry
    row = command(app, cid)
    assert row.state.value == "failed"
    with app.app_context():
        assert Job.fetch(row.job_id, connection=redis_store.client).get_status() == JobStatus.SCHEDULED
    sim.routers[0].faults.update(down=False)
    app.config["OUTBOX_SWEEP_GRACE"] = 0
    time.sleep(0.2)  # past the retry's time: no scheduler moved it (none runs here, as after a SIGKILL)
    with app.app_context():
        assert sweep_outbox()["requeued"] == 1
    run_worker(app)  # the re-enqueued job, then the stale scheduled one too: the second finds the row done
    assert states(app, [cid]) == {cid: "done"}
    assert user_names(sim.routers[0]).count("sched1") == 1


def test_a_job_started_on_a_worker_that_died_before_its_claim_is_requeued(app, sim, make_router):
    from datetime import UTC, datetime, timedelta

    r = make_router(sim.routers[0])
    [cid] = queue_users(app, r.id, ["started1"])
    app.config.update(OUTBOX_SWEEP_GRACE=0, OUTBOX_STUCK_AFTER=60)
    with app.app_context():
        job = Job.fetch(command(app, cid).job_id, connection=redis_store.client)
        job.set_status(JobStatus.STARTED)  # what a worker SIGKILLed mid-job leaves behind, its row still pending
        job.started_at = datetime.now(UTC) - timedelta(seconds=5)
        job.save()
        assert sweep_outbox()["requeued"] == 0  # started a moment ago: it may still claim its row
        job.started_at = datetime.now(UTC) - timedelta(seconds=120)
        job.save()
        assert sweep_outbox()["requeued"] == 1
    run_worker(app)
    assert states(app, [cid]) == {cid: "done"}
    assert user_names(sim.routers[0]).count("started1") == 1


def test_a_job_taken_off_its_queue_by_a_worker_killed_before_it_started_is_requeued(app, sim, make_router):
    """RQ moves a job to the queue's intermediate list as a worker takes it; a SIGKILL before the job is marked
    started leaves it "queued" in no queue, which RQ's own clean-up only notices ten minutes or more later."""
    from rq import Queue

    r = make_router(sim.routers[0])
    [cid] = queue_users(app, r.id, ["taken1"], bulk=True)
    app.config["OUTBOX_SWEEP_GRACE"] = 0
    time.sleep(0.05)
    with app.app_context():
        job = Job.fetch(command(app, cid).job_id, connection=redis_store.client)
        queue = Queue(job.origin, connection=redis_store.client)
        assert sweep_outbox()["requeued"] == 0  # in its queue: a worker will take it
        redis_store.client.lmove(queue.key, queue.intermediate_queue_key)  # what the dead worker's dequeue did
        assert job.get_status() == JobStatus.QUEUED
        assert sweep_outbox()["requeued"] == 1
        assert redis_store.client.lpos(queue.key, job.id) is not None  # back in its queue, for any worker
        assert sweep_outbox()["requeued"] == 0
    run_worker(app)
    assert states(app, [cid]) == {cid: "done"}
    assert user_names(sim.routers[0]).count("taken1") == 1
