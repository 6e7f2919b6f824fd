"""The outbox sweep: nothing in SQL is lost when Redis loses its queues or a worker dies."""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta

from flask import current_app
from rq.job import Job
from sqlalchemy import select, update

from isp.extensions import db, redis_store
from isp.jobs import queues
from isp.models import CommandState, RouterCommand
from isp.models.base import utcnow
from isp.services import outbox

log = logging.getLogger(__name__)


def sweep_outbox() -> dict:
    """Reset rows stuck running on a dead worker, and re-enqueue rows whose job vanished."""
    config = current_app.config
    stuck_cutoff = utcnow() - timedelta(seconds=config["OUTBOX_STUCK_AFTER"])
    reset = db.session.execute(update(RouterCommand).where(
        RouterCommand.state == CommandState.running, RouterCommand.updated_at < stuck_cutoff).values(
        # job_id cleared: the job that claimed them died with its worker, whatever RQ still says.
        state=CommandState.pending, job_id=None, next_attempt_at=utcnow() - timedelta(seconds=config["OUTBOX_SWEEP_GRACE"] + 1),
        last_error="worker stopped while running this command; re-queued")).rowcount
    db.session.commit()
    # Stuck rows gave their collapse key away when claimed; take it back where no newer row holds it.
    if reset:
        outbox.reclaim_keys(list(db.session.scalars(select(RouterCommand).where(
            RouterCommand.state == CommandState.pending, RouterCommand.open_key.is_(None)))))
        db.session.commit()

    rows = outbox.overdue(config["OUTBOX_SWEEP_GRACE"])
    job_ids = sorted({r.job_id for r in rows if r.job_id})
    jobs = Job.fetch_many(job_ids, connection=redis_store.client) if job_ids else []
    alive = {job.id for job in jobs if job is not None and job.get_status(refresh=False) in queues.ALIVE}
    lost = [r for r in rows if r.job_id not in alive]
    bulk: dict[int, list[int]] = defaultdict(list)
    for row in lost:
        if row.priority.value == "bulk":
            bulk[row.router_id].append(row.id)
        else:
            row.job_id = queues.command_job_id(row.id)
            queues.after_commit(db.session, "command", row.id, row.priority.value)
    chunk = config["BULK_CHUNK"]
    for router_id, ids in bulk.items():
        for start in range(0, len(ids), chunk):
            part = ids[start:start + chunk]
            job_id = queues.batch_job_id(router_id, part)
            db.session.execute(update(RouterCommand).where(RouterCommand.id.in_(part)).values(job_id=job_id))
            queues.after_commit(db.session, "batch", router_id, part, "bulk")
    db.session.commit()
    if reset or lost:
        log.warning("outbox sweep: %s stuck rows reset, %s lost rows re-enqueued", reset, len(lost))
    return {"reset": reset, "requeued": len(lost)}
