"""Jobs that make routers agree with SQL: execute one outbox row, or a chunk over one connection."""
from __future__ import annotations

import json
import logging
import random
import time
import uuid
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from isp.extensions import db, redis_store
from isp.jobs import queues, runtime
from isp.models import CommandState, Router, RouterCommand
from isp.models.base import utcnow
from isp.routeros import batch, cache, operations, stats
from isp.routeros.client import RouterError, RouterSpec, classify, is_trap
from isp.routeros.pool import PoolExhausted
from isp.services.outbox import backoff, reclaim_keys

log = logging.getLogger(__name__)
RETRYABLE = (CommandState.pending, CommandState.failed)


def execute_command(command_id: int) -> str:
    """Run one outbox row against its router; idempotent, safe to run twice."""
    command = db.session.get(RouterCommand, command_id)
    if command is None or command.state not in RETRYABLE:
        return "skipped"
    busy = db.session.scalar(select(RouterCommand.id).where(
        RouterCommand.router_id == command.router_id, RouterCommand.idempotency_key == command.idempotency_key,
        RouterCommand.state == CommandState.running, RouterCommand.id != command.id).limit(1))
    if busy is not None:  # e.g. a kick queued while the push of the same user is still running: keep their order
        return _defer(command.router, [command], command.priority.value, 1.0, f"waiting for command #{busy} on the same item")
    return _run(command.router, [command], command.priority.value)


def execute_batch(router_id: int, command_ids: list[int]) -> str:
    """Push a chunk of outbox rows to one router over a single pooled connection."""
    router = db.session.get(Router, router_id)
    rows = list(db.session.scalars(select(RouterCommand).where(
        RouterCommand.id.in_(command_ids), RouterCommand.state.in_(RETRYABLE)).order_by(RouterCommand.id)))
    if router is None or not rows:
        return "skipped"
    return _run(router, rows, rows[0].priority.value)  # bulk, or critical for a mass expiry


def _defer(router: Router, rows: list[RouterCommand], priority: str, delay: float, reason: str,
           at_front: bool = False) -> str:
    """Re-schedule without burning an attempt (breaker open, router disabled, pool full, urgent work)."""
    ids = [r.id for r in rows]
    single = len(rows) == 1 and priority != "bulk"
    job_id = queues.command_job_id(ids[0]) if single else queues.batch_job_id(router.id, ids)
    # The reason goes in only where no real router error is recorded: that one matters more.
    db.session.execute(update(RouterCommand).where(RouterCommand.id.in_(ids)).values(
        next_attempt_at=utcnow() + timedelta(seconds=delay), job_id=job_id), execution_options={"synchronize_session": False})
    db.session.execute(update(RouterCommand).where(RouterCommand.id.in_(ids), RouterCommand.last_error == "").values(
        last_error=reason), execution_options={"synchronize_session": False})
    db.session.commit()
    if single:
        queues.enqueue_command(ids[0], priority, delay)
    else:
        queues.enqueue_batch(router.id, ids, priority, delay, at_front=at_front)
    return "deferred"


def _claim(rows: list[RouterCommand]) -> list[RouterCommand]:
    """Mark rows running in one UPDATE; only rows still pending/failed become ours."""
    token = uuid.uuid4().hex
    db.session.execute(update(RouterCommand).where(
        RouterCommand.id.in_([r.id for r in rows]), RouterCommand.state.in_(RETRYABLE)).values(
        state=CommandState.running, open_key=None, claimed_by=token, attempts=RouterCommand.attempts + 1,
        updated_at=utcnow()), execution_options={"synchronize_session": False})
    db.session.commit()
    # One query reloads every claimed row (the commit expired them).
    return list(db.session.scalars(select(RouterCommand).where(RouterCommand.claimed_by == token).order_by(RouterCommand.id)))


def _run(router: Router, rows: list[RouterCommand], priority: str) -> str:
    config = current_app.config
    if not router.enabled:
        return _defer(router, rows, priority, 60, "router is disabled; waiting until it is enabled")
    breaker = runtime.breaker()
    # An operator's "Test connection" is itself a probe: it runs even when the circuit is open.
    explicit_test = len(rows) == 1 and rows[0].operation in operations.PROBES
    decision = breaker.allow(router.id)
    if not decision.allowed and not explicit_test:
        # Open: come back when the cool-down ends (jittered so the backlog does not stampede).
        # Half-open: a probe is in flight; check again soon rather than after its whole timeout.
        delay = min(decision.retry_after, 1.0) if decision.state == "half-open" else decision.retry_after
        return _defer(router, rows, priority, max(delay, 0.2) + random.random() * 0.5, f"circuit {decision.state}; deferred")
    try:
        spec = RouterSpec.from_model(router)
    except ValueError as exc:  # the password cannot be decrypted: retrying will not help
        for row in rows:
            row.state, row.last_error, row.open_key, row.finished_at = CommandState.dead, f"config: {exc}", None, utcnow()
        db.session.commit()
        return "dead: credentials unreadable"
    rows = _claim(rows)
    if not rows:
        return "skipped"
    # This job owns the claimed rows: keep them loaded across progress commits instead of
    # re-reading each one (the session is discarded when the job ends).
    db.session().expire_on_commit = False
    done = 0
    started = time.perf_counter()
    try:
        with runtime.pool().connection(spec) as conn:
            sequential = rows
            if len(rows) > 1 and len({r.operation for r in rows}) == 1 and rows[0].operation.endswith(".ensure"):
                done = _run_pipelined(conn.api, router, rows, config)
                sequential = []
            for index, row in enumerate(sequential):
                t0 = time.perf_counter()
                try:
                    result = operations.run(conn.api, row.operation, row.payload)
                except BaseException as exc:
                    if not is_trap(exc):
                        raise
                    _retry_or_die([(row, classify(exc))], config)  # the router answered: connection stays
                    stats.record(redis_store.client, router.id, False, time.perf_counter() - t0, str(exc))
                    continue
                _succeed(row, result)
                done += 1
                if index % 50 == 49:
                    # Progress is visible during big chunks, and the rows still ahead look alive to the sweep.
                    ahead = [r.id for r in sequential[index + 1:]]
                    if ahead:
                        db.session.execute(update(RouterCommand).where(RouterCommand.id.in_(ahead)).values(updated_at=utcnow()))
                    db.session.commit()
    except PoolExhausted as exc:
        _release(rows)
        return _defer(router, rows, priority, 1.0, str(exc))
    except BaseException as exc:
        error = classify(exc)
        breaker.failure(router.id, error.message)
        stats.record(redis_store.client, router.id, False, time.perf_counter() - started, str(error))
        router.last_error = str(error)
        _retry_or_die([(row, error) for row in rows if row.state == CommandState.running], config)
        db.session.commit()
        if isinstance(exc, (KeyboardInterrupt, SystemExit)) or type(exc).__name__ == "JobTimeoutException":
            raise
        return f"failed: {error}"
    breaker.success(router.id)
    stats.record(redis_store.client, router.id, True, time.perf_counter() - started, count=max(done, 1))
    router.last_seen_at, router.last_error = utcnow(), ""
    db.session.commit()
    return f"done {done}/{len(rows)}"


PIPELINE_STEP = 50  # rows per query + tagged window; urgent work is checked before every step


def _run_pipelined(api, router: Router, rows: list[RouterCommand], config) -> int:  # noqa: ANN001
    """A chunk of ensures of one kind: per step one query, then tagged writes in flight."""
    kind = rows[0].operation.split(".")[0]
    done = 0
    last_commit = time.monotonic()
    for start in range(0, len(rows), PIPELINE_STEP):
        if queues.urgent_waiting():  # checked before every step, the first included
            db.session.commit()  # what is done so far stays done
            _step_aside(router, rows[start:])
            break
        step = rows[start:start + PIPELINE_STEP]
        results = batch.ensure_many(api, operations.MENUS[kind], [r.payload["attrs"] for r in step])
        traps = [(row, classify(result)) for row, result in zip(step, results) if isinstance(result, Exception)]
        for row, result in zip(step, results):
            if not isinstance(result, Exception):
                _succeed(row, result, invalidate=False)
                done += 1
        for row, error in traps:
            stats.record(redis_store.client, router.id, False, 0.0, str(error))
        _retry_or_die(traps, config)
        ahead = [r.id for r in rows[start + PIPELINE_STEP:]]
        if ahead and time.monotonic() - last_commit < config["BULK_PROGRESS_SECONDS"]:  # commit progress, not every step
            continue
        cache.invalidate(redis_store.client, router.id, kind)
        if ahead:  # the rows still ahead look alive to the sweep
            db.session.execute(update(RouterCommand).where(RouterCommand.id.in_(ahead)).values(updated_at=utcnow()),
                               execution_options={"synchronize_session": False})
        db.session.commit()
        last_commit = time.monotonic()
    return done


def _step_aside(router: Router, rest: list[RouterCommand]) -> None:
    """Cooperative preemption: hand the rest of the chunk back (front of bulk) so urgent jobs run now."""
    _release(rest)
    _defer(router, rest, "bulk", 0.0, "", at_front=True)


def _succeed(row: RouterCommand, result: dict, invalidate: bool = True) -> None:
    row.state, row.last_error, row.finished_at = CommandState.done, "", utcnow()
    row.result_json = json.dumps(result, default=str)
    if row.operation == "router.test":
        router = row.router
        router.identity, router.version, router.board = result["identity"], result["version"], result["board"]
    if row.operation == "menu.read":
        cache.put(redis_store.client, row.router_id, row.payload["menu"], result["rows"], current_app.config["READ_CACHE_TTL"])
    elif invalidate and row.operation in operations.INVALIDATES:
        cache.invalidate(redis_store.client, row.router_id, operations.INVALIDATES[row.operation])


def _release(rows: list[RouterCommand]) -> None:
    """Put claimed rows back as they were (nothing was attempted)."""
    for row in rows:
        row.state, row.attempts, row.claimed_by = CommandState.pending, max(0, row.attempts - 1), None
    reclaim_keys(rows)
    db.session.commit()


def _retry_or_die(failures: list[tuple[RouterCommand, RouterError]], config) -> None:  # noqa: ANN001
    """Schedule a retry with backoff for each failed row, or mark it dead after RETRY_MAX attempts."""
    reclaim_keys([row for row, _ in failures])
    for row, error in failures:
        row.last_error, row.updated_at = str(error)[:2000], utcnow()
        if row.open_key is None:
            row.state, row.finished_at = CommandState.discarded, utcnow()
            row.last_error += "\n[superseded by a newer command for the same item]"
        elif row.attempts >= config["RETRY_MAX"] or row.operation in operations.PROBES:  # a probe answers once
            row.state, row.finished_at, row.open_key = CommandState.dead, utcnow(), None
            log.error("command %s (%s) is dead after %s attempts: %s", row.id, row.operation, row.attempts, error)
        else:
            delay = backoff(row.attempts, config["RETRY_BASE"], config["RETRY_CAP"])
            row.state, row.job_id = CommandState.failed, queues.command_job_id(row.id)
            row.next_attempt_at = utcnow() + timedelta(seconds=delay)
            queues.after_commit(db.session, "command", row.id, row.priority.value, delay)
