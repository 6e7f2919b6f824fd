"""The outbox's mechanics, below both services and jobs: job specs, job ids, backoff, after-commit enqueueing.

Jobs are enqueued by dotted path, so nothing here (and nothing in services) imports `isp.jobs`.
Every job declares its queue, timeout and TTLs once, in `JOBS`; enqueue sites name the spec.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import timedelta

from flask import Flask
from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction, scoped_session

from isp.extensions import db, redis_store

log = logging.getLogger(__name__)

QUEUES = ("critical", "high", "normal", "low", "bulk")  # most urgent first
URGENT = ("critical", "high")
# RQ states in which a job will still run: the sweep and the periodic jobs do not enqueue it again.
ALIVE = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED, JobStatus.STARTED}


@dataclass(frozen=True)
class JobSpec:
    """One job: its function's dotted path, default queue, timeout and how long RQ keeps it around."""

    path: str
    queue: str | None  # None: the caller picks (a command runs on its own priority's queue)
    timeout: int
    ttl: int = 86400  # seconds a queued job may wait before RQ drops it (the outbox sweep re-enqueues)
    result_ttl: int = 300
    failure_ttl: int = 86400


EXECUTE_COMMAND = JobSpec("isp.jobs.router.execute_command", None, timeout=120)
EXECUTE_BATCH = JobSpec("isp.jobs.router.execute_batch", None, timeout=900)
POLL_ROUTER = JobSpec("isp.jobs.monitor.poll_router", "low", timeout=30, ttl=60, result_ttl=60, failure_ttl=3600)
# The monitoring poll of a chunk of routers (poll_all queues one per chunk): reads concurrent, writes set-based.
POLL_BATCH = JobSpec("isp.jobs.monitor.poll_batch", "low", timeout=60, ttl=60, result_ttl=60, failure_ttl=3600)
SYNC_USAGE = JobSpec("isp.jobs.vouchers.sync_usage", "normal", timeout=30, ttl=60, result_ttl=60, failure_ttl=3600)
RECONCILE = JobSpec("isp.jobs.reconcile.reconcile_router", "normal", timeout=600, ttl=3600, result_ttl=3600)
# Periodic jobs (the clock enqueues them; isp/jobs/schedule.py says how often).
HEARTBEAT = JobSpec("isp.jobs.maintenance.heartbeat", "low", timeout=30, ttl=120, result_ttl=60)
PURGE_SECURITY = JobSpec("isp.jobs.maintenance.purge_security", "low", timeout=120, ttl=600, result_ttl=60)
SWEEP_OUTBOX = JobSpec("isp.jobs.outbox.sweep_outbox", "normal", timeout=120, ttl=60, result_ttl=60)
POLL_ALL = JobSpec("isp.jobs.monitor.poll_all", "low", timeout=30, ttl=30, result_ttl=60)
# Expiry is SQL only and runs on critical: a voucher is retired within seconds of its expiry time.
EXPIRE_VOUCHERS = JobSpec("isp.jobs.vouchers.expire_vouchers", "critical", timeout=60, ttl=30, result_ttl=60)
POLL_USAGE_ALL = JobSpec("isp.jobs.vouchers.poll_usage_all", "normal", timeout=30, ttl=30, result_ttl=60)
RECONCILE_ALL = JobSpec("isp.jobs.reconcile.reconcile_all", "normal", timeout=60, ttl=600, result_ttl=60)
DEMO_TRAFFIC = JobSpec("isp.jobs.demo.traffic", "normal", timeout=30, ttl=30, result_ttl=60)
# Subscribers: sessions and usage (api mode), the billing run, the on-time suspension tick, notifications.
POLL_SESSIONS_ALL = JobSpec("isp.jobs.sessions.poll_sessions_all", "low", timeout=30, ttl=30, result_ttl=60)
POLL_SESSIONS = JobSpec("isp.jobs.sessions.poll_sessions", "low", timeout=60, ttl=60, result_ttl=60, failure_ttl=3600)
BILLING_RUN = JobSpec("isp.jobs.billing.billing_run", "normal", timeout=900, ttl=60, result_ttl=300)
SUSPEND_DUE = JobSpec("isp.jobs.billing.suspend_due", "critical", timeout=60, ttl=30, result_ttl=60)
SEND_NOTIFICATIONS = JobSpec("isp.jobs.notifications.send_due", "normal", timeout=120, ttl=60, result_ttl=60)
QUEUE_REMINDERS = JobSpec("isp.jobs.notifications.queue_reminders", "low", timeout=300, ttl=300, result_ttl=60)
IMPORT_RUN = JobSpec("isp.jobs.imports.run_import", "bulk", timeout=900, ttl=3600, result_ttl=300)  # the CSV import's real run
# Radius mode: the radacct rollup into daily usage, and closing stale sessions (SQL only).
RADIUS_ROLLUP = JobSpec("isp.jobs.radius_sessions.rollup", "low", timeout=300, ttl=60, result_ttl=60)
RADIUS_CLEANUP = JobSpec("isp.jobs.radius_sessions.cleanup", "normal", timeout=120, ttl=60, result_ttl=60)
# Monitoring: a watched router's live traffic (a page is open on it), rollups and retention, alert evaluation.
MONITOR_LIVE = JobSpec("isp.jobs.monitor.live_traffic", "high", timeout=15, ttl=10, result_ttl=30, failure_ttl=600)
MONITOR_ROLLUP = JobSpec("isp.jobs.monitor.rollup", "low", timeout=600, ttl=120, result_ttl=60)
EVALUATE_ALERTS = JobSpec("isp.jobs.alerts.evaluate", "normal", timeout=60, ttl=30, result_ttl=60)
JOBS = {spec.path: spec for spec in (EXECUTE_COMMAND, EXECUTE_BATCH, POLL_ROUTER, POLL_BATCH, SYNC_USAGE, RECONCILE,
                                     HEARTBEAT, SWEEP_OUTBOX, POLL_ALL, EXPIRE_VOUCHERS, POLL_USAGE_ALL, RECONCILE_ALL,
                                     DEMO_TRAFFIC, POLL_SESSIONS_ALL, POLL_SESSIONS, BILLING_RUN, SUSPEND_DUE, SEND_NOTIFICATIONS,
                                     QUEUE_REMINDERS, IMPORT_RUN, RADIUS_ROLLUP, RADIUS_CLEANUP, MONITOR_LIVE,
                                     MONITOR_ROLLUP, EVALUATE_ALERTS, PURGE_SECURITY)}


def queue(name: str) -> Queue:
    """The RQ queue called `name` on the app's Redis."""
    if name not in QUEUES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=redis_store.client)


@dataclass(frozen=True)
class Enqueue:
    """A job to enqueue once the transaction that wrote its rows has committed."""

    spec: JobSpec
    args: tuple
    job_id: str
    queue: str = ""
    delay: float = 0.0
    at_front: bool = False
    kwargs: dict = field(default_factory=dict)

    def send(self) -> Job:
        """Put the job on its queue now (or schedule it after `delay`)."""
        spec = self.spec
        q = queue(self.queue or spec.queue or "normal")
        options = dict(job_id=self.job_id, job_timeout=spec.timeout, result_ttl=spec.result_ttl,
                       failure_ttl=spec.failure_ttl, ttl=spec.ttl)
        if self.delay > 0:
            return q.enqueue_in(timedelta(seconds=self.delay), spec.path, *self.args, **self.kwargs, **options)
        return q.enqueue(spec.path, *self.args, at_front=self.at_front, **self.kwargs, **options)


def command_job_id(command_id: int) -> str:
    """Stable job id of one outbox row: the outbox sweep checks for it before re-enqueueing."""
    return f"cmd-{command_id}"


def batch_job_id(router_id: int, command_ids: list[int]) -> str:
    """Job id of a chunk job."""
    return f"batch-{router_id}-{command_ids[0]}-{len(command_ids)}"


def command_job(command_id: int, priority: str, delay: float = 0.0) -> Enqueue:
    """The job that executes one outbox row on its priority's queue."""
    return Enqueue(EXECUTE_COMMAND, (command_id,), command_job_id(command_id), priority, delay)


def batch_job(router_id: int, command_ids: list[int], priority: str = "bulk", delay: float = 0.0,
              at_front: bool = False) -> Enqueue:
    """The job that pushes a chunk of rows to one router over one connection."""
    return Enqueue(EXECUTE_BATCH, (router_id, list(command_ids)), batch_job_id(router_id, command_ids), priority,
                   delay, at_front)


def backoff(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: uniform(0.5, 1) × min(cap, base × 2^(attempt-1))."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return ceiling * (0.5 + (rng or random).random() / 2)


def urgent_waiting() -> bool:
    """True when critical or high jobs are queued (a bulk chunk should step aside)."""
    try:
        pipe = redis_store.client.pipeline(transaction=False)
        for name in URGENT:
            pipe.llen(f"rq:queue:{name}")
        return any(pipe.execute())
    except Exception:
        log.exception("could not check the urgent queues")
        return False


def alive(job_ids: list[str]) -> set[str]:
    """The ids among `job_ids` whose RQ job will still run (one round trip)."""
    jobs = Job.fetch_many(job_ids, connection=redis_store.client) if job_ids else []
    return {job.id for job in jobs if job is not None and job.get_status(refresh=False) in ALIVE}


def enqueue_once(spec: JobSpec, jobs: dict[str, tuple]) -> int:
    """Enqueue `spec` once per job id (e.g. one per router) unless that job is still queued or running; returns how many."""
    running = alive(list(jobs))
    queued = 0
    for job_id, args in jobs.items():
        if job_id not in running:
            Enqueue(spec, args, job_id).send()
            queued += 1
    return queued


PENDING = "isp_after_commit"


def after_commit(session: Session | scoped_session, job: Enqueue) -> None:
    """Enqueue once the rows are committed, so a job never runs before its row exists.

    The job remembers the SAVEPOINT it was queued in: if that savepoint rolls back, so does the job.
    """
    actual = session() if isinstance(session, scoped_session) else session
    if not actual.in_transaction():
        actual.begin()  # the job belongs to this unit: a rollback before any SQL must drop it too
    actual.info.setdefault(PENDING, []).append((actual.get_nested_transaction(), job))


def _flush_enqueues(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT was released; the rows are not committed yet
    for _, job in session.info.pop(PENDING, []):
        try:
            job.send()
        except Exception:
            later = "the outbox sweep will enqueue it again" if job.spec in (EXECUTE_COMMAND, EXECUTE_BATCH) \
                else "the next scheduled run or request will"
            log.exception("enqueue of %s failed; %s", job.job_id, later)


def _inside(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


def _forget_enqueues(session: Session, previous_transaction: SessionTransaction) -> None:
    """A rollback drops the jobs queued inside what it rolled back: the whole unit, or one savepoint."""
    pending = session.info.get(PENDING)
    if not pending:
        return
    if not previous_transaction.nested:
        session.info.pop(PENDING, None)
        return
    session.info[PENDING] = [(tx, job) for tx, job in pending if not _inside(tx, previous_transaction)]


def init_app(app: Flask) -> None:
    """Hook after-commit enqueueing onto db.session's session class (shared by every app; hooked once, not at import)."""
    target = db.session
    if not event.contains(target, "after_commit", _flush_enqueues):
        event.listen(target, "after_commit", _flush_enqueues)
        event.listen(target, "after_soft_rollback", _forget_enqueues)
