"""RQ queue handles and after-commit enqueueing of outbox rows."""
from __future__ import annotations

import logging
from datetime import timedelta

from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy import event
from sqlalchemy.orm import Session

from isp.extensions import redis_store
from isp.jobs import QUEUES

log = logging.getLogger(__name__)
JOB_TIMEOUT = 120
# RQ states in which a job will still run: the sweep and the periodic jobs do not enqueue it again.
ALIVE = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED, JobStatus.STARTED}
BATCH_TIMEOUT = 900


def queue(name: str) -> Queue:
    """The RQ queue called `name` on the app's Redis."""
    if name not in QUEUES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=redis_store.client, default_timeout=JOB_TIMEOUT)


def command_job_id(command_id: int) -> str:
    """Stable job id: the outbox sweep checks for it before re-enqueueing."""
    return f"cmd-{command_id}"


def enqueue_command(command_id: int, priority: str, delay: float = 0.0) -> None:
    """Queue the job that executes one outbox row (optionally after a delay)."""
    from isp.jobs.router import execute_command

    q = queue(priority)
    kwargs = dict(job_id=command_job_id(command_id), job_timeout=JOB_TIMEOUT, result_ttl=300, failure_ttl=86400, ttl=86400)
    if delay > 0:
        q.enqueue_in(timedelta(seconds=delay), execute_command, command_id, **kwargs)
    else:
        q.enqueue(execute_command, command_id, **kwargs)


def batch_job_id(router_id: int, command_ids: list[int]) -> str:
    """Job id of a chunk job."""
    return f"batch-{router_id}-{command_ids[0]}-{len(command_ids)}"


def urgent_waiting() -> bool:
    """True when critical or high jobs are queued (a bulk chunk should step aside)."""
    try:
        pipe = redis_store.client.pipeline(transaction=False)
        for name in ("critical", "high"):
            pipe.llen(f"rq:queue:{name}")
        return any(pipe.execute())
    except Exception:  # noqa: BLE001 - never let the check break the batch
        log.exception("could not check the urgent queues")
        return False


def enqueue_batch(router_id: int, command_ids: list[int], priority: str = "bulk", delay: float = 0.0,
                  at_front: bool = False) -> None:
    """Queue one job that pushes a chunk of rows over one connection."""
    from isp.jobs.router import execute_batch

    q = queue(priority)
    kwargs = dict(job_id=batch_job_id(router_id, command_ids), job_timeout=BATCH_TIMEOUT, result_ttl=300, ttl=86400)
    if delay > 0:
        q.enqueue_in(timedelta(seconds=delay), execute_batch, router_id, command_ids, **kwargs)
    else:
        q.enqueue(execute_batch, router_id, command_ids, at_front=at_front, **kwargs)


def enqueue_once(func, name: str, job_ids: dict[int, str], args_of=lambda key: (key,), timeout: int = 60) -> int:  # noqa: ANN001
    """Enqueue func per key (e.g. per router) unless that key's job is still queued or running; returns how many."""
    keys = list(job_ids)
    jobs = Job.fetch_many([job_ids[k] for k in keys], connection=redis_store.client) if keys else []
    q = queue(name)
    queued = 0
    for key, job in zip(keys, jobs):
        if job is not None and job.get_status(refresh=False) in ALIVE:
            continue
        q.enqueue(func, *args_of(key), job_id=job_ids[key], job_timeout=timeout, result_ttl=60, ttl=60)
        queued += 1
    return queued


def after_commit(session: Session, kind: str, *args) -> None:
    """Enqueue once the rows are committed, so a job never runs before its row exists."""
    session.info.setdefault("isp_after_commit", []).append((kind, args))


@event.listens_for(Session, "after_commit")
def _flush_enqueues(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT was released; the rows are not committed yet
    pending = session.info.pop("isp_after_commit", [])
    for kind, args in pending:
        try:
            if kind == "command":
                enqueue_command(*args)
            else:
                enqueue_batch(*args)
        except Exception:  # noqa: BLE001 - the row is committed; the outbox sweep will enqueue it
            log.exception("enqueue of %s %s failed; the outbox sweep will retry", kind, args[:1])


@event.listens_for(Session, "after_rollback")
def _forget_enqueues(session: Session) -> None:
    if session.in_nested_transaction():
        return  # only a SAVEPOINT rolled back (e.g. a collapsed duplicate); the outer work stands
    session.info.pop("isp_after_commit", None)
