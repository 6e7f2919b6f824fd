"""The outbox sweep: nothing in SQL is lost when Redis loses its queues or a worker dies."""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from flask import current_app
from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy import select, update

from isp import dispatch
from isp.extensions import db, redis_store
from isp.models import CommandState, RouterCommand
from isp.models.base import utcnow
from isp.services import audit, outbox
from isp.sqlutil import chunked

log = logging.getLogger(__name__)


def _will_run(job: Job, stuck_cutoff: datetime, queued: set[str]) -> bool:
    """Whether an overdue row's RQ job will still run it; a second run of a re-enqueued job finds its rows done.

    Not when it waits in RQ's scheduled registry past its time (and the grace): the worker holding the scheduler
    lock died (SIGKILL) and the others try to take the lock only every ten minutes. Not when it "started" longer
    than OUTBOX_STUCK_AFTER ago without claiming its rows: its worker died before the claim. Not when it says
    "queued" but is in no queue (`queued`: the ids found in their queue's list): a worker moved it to RQ's
    intermediate list and was SIGKILLed before marking it started, and RQ's own clean-up of that list waits
    for a maintenance round (every ten minutes) plus a minute.
    """
    status = job.get_status(refresh=False)
    if status == JobStatus.STARTED:
        return job.started_at is None or job.started_at > stuck_cutoff
    if status == JobStatus.QUEUED:
        return job.id in queued
    return status in dispatch.ALIVE and status != JobStatus.SCHEDULED


def _in_their_queues(jobs: list[Job]) -> set[str]:
    """The ids of the queued jobs that really are in their queue's list (one pipelined LPOS each)."""
    waiting = [job for job in jobs if job.get_status(refresh=False) == JobStatus.QUEUED]
    if not waiting:
        return set()
    pipe = redis_store.client.pipeline(transaction=False)
    for job in waiting:
        pipe.lpos(Queue(job.origin, connection=redis_store.client).key, job.id)
    return {job.id for job, position in zip(waiting, pipe.execute(), strict=True) if position is not None}


def sweep_outbox() -> dict:
    """Reset rows stuck running on a dead worker, and re-enqueue rows whose job vanished."""
    config = current_app.config
    stuck_cutoff = utcnow() - timedelta(seconds=config["OUTBOX_STUCK_AFTER"])
    reset = db.session.execute(update(RouterCommand).where(
        RouterCommand.state == CommandState.running, RouterCommand.updated_at < stuck_cutoff).values(
        # job_id cleared: the job that claimed them died with its worker, whatever RQ still says.
        state=CommandState.pending, job_id=None, next_attempt_at=utcnow() - timedelta(seconds=config["OUTBOX_SWEEP_GRACE"] + 1),
        last_error="worker stopped while running this command; re-queued")).rowcount
    if reset:  # one summary row per sweep, in the reset's own commit
        audit.record(None, "outbox.sweep", f"{reset} commands", "reset: their worker stopped while running them",
                     changes={"running → pending": [None, reset]})
    db.session.commit()
    # Stuck rows gave their collapse key away when claimed; take it back where no newer row holds it,
    # or end the row (superseded meanwhile, or a probe, which is never re-run).
    if reset:
        outbox.settle_unclaimed(list(db.session.scalars(select(RouterCommand).where(
            RouterCommand.state == CommandState.pending, RouterCommand.open_key.is_(None)))),
            "not answered: its worker stopped")
        db.session.commit()

    rows = outbox.overdue(config["OUTBOX_SWEEP_GRACE"])
    ids = sorted({r.job_id for r in rows if r.job_id})
    jobs = [job for job in (Job.fetch_many(ids, connection=redis_store.client) if ids else []) if job is not None]
    queued = _in_their_queues(jobs)
    alive = {job.id for job in jobs if _will_run(job, stuck_cutoff, queued)}
    lost = [r for r in rows if r.job_id not in alive]
    bulk: dict[int, list[int]] = defaultdict(list)
    for row in lost:
        if row.priority.value == "bulk":
            bulk[row.router_id].append(row.id)
        else:
            job = dispatch.command_job(row.id, row.priority.value)
            row.job_id = job.job_id
            dispatch.after_commit(db.session, job)
    for router_id, ids in bulk.items():
        for part in chunked(ids, config["BULK_CHUNK"]):
            job = dispatch.batch_job(router_id, part)
            db.session.execute(update(RouterCommand).where(RouterCommand.id.in_(part)).values(job_id=job.job_id))
            dispatch.after_commit(db.session, job)
    if lost:
        audit.record(None, "outbox.sweep", f"{len(lost)} commands", "re-enqueued: their job was lost from Redis",
                     changes={"re-enqueued": [None, len(lost)]})
    db.session.commit()
    if reset or lost:
        log.warning("outbox sweep: %s stuck rows reset, %s lost rows re-enqueued", reset, len(lost))
    return {"reset": reset, "requeued": len(lost)}
