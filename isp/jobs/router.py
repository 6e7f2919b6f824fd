"""Jobs that make routers agree with SQL: execute one outbox row, or a chunk over one connection."""
from __future__ import annotations

import json
import logging
import random
import time
import uuid
from datetime import timedelta

from flask import current_app
from librouteros.api import Api
from sqlalchemy import select, update

from isp import dispatch
from isp.extensions import db, redis_store
from isp.models import CommandState, Router, RouterCommand
from isp.models.base import utcnow
from isp.routeros import batch, operations, stats
from isp.routeros.client import RouterError, classify, is_trap
from isp.routeros.runtime import RouterUnavailable, guarded
from isp.services import audit, radius_commands
from isp.services.outbox import reclaim_keys, settle_unclaimed

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
    if command.operation in operations.PACKET_FIRST and command.router.enabled:
        sent = _send_packets(command)
        if sent is not None:
            return sent
    return _run(command.router, [command], command.priority.value)


def _send_packets(command: RouterCommand) -> str | None:
    """A RADIUS Disconnect/CoA goes straight from the worker (no pool, no breaker: the API may be down while
    RADIUS is not). Answered: the row is done. Otherwise it is handed back unattempted, its packet outcome
    kept, and None tells the caller to run the API fallback through the normal path."""
    claimed = _claim([command])
    if not claimed:
        return "skipped"
    row = claimed[0]
    outcome = radius_commands.deliver(row.router, row.operation, row.payload)
    if outcome.pop("delivered"):
        row.result_json = ""
        _succeed(row, outcome)
        db.session.commit()
        return f"done: {outcome['action']}"
    row.result_json = json.dumps(outcome, default=str)
    return None if _release([row]) else "superseded"


def execute_batch(router_id: int, command_ids: list[int]) -> str:
    """Push a chunk of outbox rows to one router over a single pooled connection."""
    router = db.session.get(Router, router_id)
    rows = list(db.session.scalars(select(RouterCommand).where(
        RouterCommand.id.in_(command_ids), RouterCommand.state.in_(RETRYABLE)).order_by(RouterCommand.id)))
    if router is None or not rows:
        return "skipped"
    if router.enabled and any(row.operation in operations.PACKET_FIRST for row in rows):
        # Disconnects / CoAs queued in bulk (a plan edit, a mass suspension): packets first, each on its own;
        # the unanswered ones join the rest of the chunk for the API fallback. After the first one the router
        # did not take, the rest go straight to the fallback: a silent router would cost seconds per row.
        rest, fallback = [], False
        for row in rows:
            if row.operation in operations.PACKET_FIRST and not fallback:
                fallback = _send_packets(row) is None
                if not fallback:
                    continue
            rest.append(row)
        if not rest:
            return "done: packets"
        rows = rest
    return _run(router, rows, rows[0].priority.value)  # bulk, or critical for a mass expiry


def _defer(router: Router, rows: list[RouterCommand], priority: str, delay: float, reason: str,
           at_front: bool = False) -> str:
    """Re-schedule without burning an attempt (breaker open, router disabled, pool full, urgent work)."""
    ids = [r.id for r in rows]
    single = len(rows) == 1 and priority != "bulk"
    if single:
        job = dispatch.command_job(ids[0], priority, delay)
    else:
        job = dispatch.batch_job(router.id, ids, priority, delay, at_front)
    # The reason goes in only where no real router error is recorded: that one matters more.
    db.session.execute(update(RouterCommand).where(RouterCommand.id.in_(ids)).values(
        next_attempt_at=utcnow() + timedelta(seconds=delay), job_id=job.job_id), execution_options={"synchronize_session": False})
    db.session.execute(update(RouterCommand).where(RouterCommand.id.in_(ids), RouterCommand.last_error == "").values(
        last_error=reason), execution_options={"synchronize_session": False})
    db.session.commit()
    job.send()
    return "deferred"


def _claim(rows: list[RouterCommand]) -> list[RouterCommand]:
    """Mark rows running in one UPDATE; only rows still pending/failed become ours."""
    token, ids = uuid.uuid4().hex, [r.id for r in rows]  # ids read now: the commit below expires every row
    db.session.execute(update(RouterCommand).where(
        RouterCommand.id.in_(ids), RouterCommand.state.in_(RETRYABLE)).values(
        state=CommandState.running, open_key=None, claimed_by=token, attempts=RouterCommand.attempts + 1,
        updated_at=utcnow()), execution_options={"synchronize_session": False})
    db.session.commit()
    # One query reloads every claimed row, by primary key: claimed_by has no index, and a scan of it
    # costs milliseconds once a bulk backlog fills the table.
    return list(db.session.scalars(select(RouterCommand).where(
        RouterCommand.id.in_(ids), RouterCommand.claimed_by == token).order_by(RouterCommand.id)))


def _run(router: Router, rows: list[RouterCommand], priority: str) -> str:
    """Claim the rows once a connection is in hand, run them, and settle each row's state."""
    config = current_app.config
    if not router.enabled:
        return _defer(router, rows, priority, 60, "router is disabled; waiting until it is enabled")
    claimed: list[RouterCommand] = []

    def claim() -> bool:
        claimed.extend(_claim(rows))
        # This job owns the claimed rows: keep them loaded across progress commits instead of
        # re-reading each one (the session is discarded when the job ends).
        db.session().expire_on_commit = False
        return bool(claimed)

    # An operator's "Test connection" is itself a probe: it runs even when the circuit is open.
    probe = len(rows) == 1 and rows[0].operation in operations.PROBES
    try:
        done = guarded(router, lambda api: _execute(api, router, claimed, config), count=lambda n: n, probe=probe,
                       prepare=claim)
    except RouterUnavailable as exc:
        if exc.reason == "circuit":
            # Open: come back when the cool-down ends (jittered so the backlog does not stampede).
            # Half-open: a probe is in flight; check again soon rather than after its whole timeout.
            delay = min(exc.retry_after, 1.0) if exc.circuit == "half-open" else exc.retry_after
            return _defer(router, rows, priority, max(delay, 0.2) + random.random() * 0.5, f"circuit {exc.circuit}; deferred")
        if exc.reason == "pool":  # nothing was attempted: hand the rows back as they were
            live = _release(claimed)
            return _defer(router, live, priority, 1.0, exc.message) if live else "superseded"
        if exc.reason == "credentials":  # the password cannot be used: retrying will not help
            for row in rows:  # a probe answers with the refusal; anything else waits for an operator
                dead = CommandState.discarded if row.operation in operations.PROBES else CommandState.dead
                row.state, row.last_error, row.open_key, row.finished_at = dead, exc.message, None, utcnow()
            _audit_dead(router, [row for row in rows if row.state == CommandState.dead], exc.message)
            db.session.commit()
            return "dead: credentials unusable"
        router.last_error = str(exc.error)
        _retry_or_die([(row, exc.error) for row in claimed if row.state == CommandState.running], config)
        db.session.commit()
        return f"failed: {exc.error}"
    except BaseException as exc:  # a job timeout or an interrupt: settle the rows, then let RQ see it
        _retry_or_die([(row, classify(exc)) for row in claimed if row.state == CommandState.running], config)
        db.session.commit()
        raise
    if not claimed:
        return "skipped"
    router.last_seen_at, router.last_error = utcnow(), ""
    db.session.commit()
    return f"done {done}/{len(claimed)}"


def _execute(api: Api, router: Router, rows: list[RouterCommand], config: dict) -> int:
    """Run claimed rows over one connection: pipelined for a chunk of ensures, else one by one."""
    if len(rows) > 1 and len({r.operation for r in rows}) == 1 and rows[0].operation.endswith(".ensure"):
        return _run_pipelined(api, router, rows, config)
    done = 0
    for index, row in enumerate(rows):
        t0 = time.perf_counter()
        try:
            result = operations.run(api, row.operation, row.payload)
        except Exception as exc:
            if not is_trap(exc):
                raise
            _retry_or_die([(row, classify(exc))], config)  # the router answered: the connection stays
            stats.record(redis_store.client, router.id, False, time.perf_counter() - t0, str(exc))
            continue
        _succeed(row, result)
        done += 1
        if index % 50 == 49:
            # Progress is visible during big chunks, and the rows still ahead look alive to the sweep.
            ahead = [r.id for r in rows[index + 1:]]
            if ahead:
                db.session.execute(update(RouterCommand).where(RouterCommand.id.in_(ahead)).values(updated_at=utcnow()))
            db.session.commit()
    return done


PIPELINE_STEP = 50  # rows per query + tagged window; urgent work is checked before every step


def _run_pipelined(api: Api, router: Router, rows: list[RouterCommand], config: dict) -> int:
    """A chunk of ensures of one kind: per step one query, then tagged writes in flight."""
    kind = rows[0].operation.split(".")[0]
    done = 0
    last_commit = time.monotonic()
    for start in range(0, len(rows), PIPELINE_STEP):
        if dispatch.urgent_waiting():  # checked before every step, the first included
            db.session.commit()  # what is done so far stays done
            _step_aside(router, rows[start:])
            break
        step = rows[start:start + PIPELINE_STEP]
        results = batch.ensure_many(api, operations.MENUS[kind], [r.payload["attrs"] for r in step])
        traps = [(row, classify(result)) for row, result in zip(step, results, strict=True) if isinstance(result, Exception)]
        for row, result in zip(step, results, strict=True):
            if not isinstance(result, Exception):
                _succeed(row, result)
                done += 1
        for _row, error in traps:
            stats.record(redis_store.client, router.id, False, 0.0, str(error))
        _retry_or_die(traps, config)
        ahead = [r.id for r in rows[start + PIPELINE_STEP:]]
        if ahead and time.monotonic() - last_commit < config["BULK_PROGRESS_SECONDS"]:  # commit progress, not every step
            continue
        if ahead:  # the rows still ahead look alive to the sweep
            db.session.execute(update(RouterCommand).where(RouterCommand.id.in_(ahead)).values(updated_at=utcnow()),
                               execution_options={"synchronize_session": False})
        db.session.commit()
        last_commit = time.monotonic()
    return done


def _step_aside(router: Router, rest: list[RouterCommand]) -> None:
    """Cooperative preemption: hand the rest of the chunk back (front of bulk) so urgent jobs run now."""
    live = _release(rest)
    if live:
        _defer(router, live, "bulk", 0.0, "", at_front=True)


def _succeed(row: RouterCommand, result: dict) -> None:
    if row.operation in operations.PACKET_FIRST and row.result_json:  # the packets' outcome, then the API fallback
        result = {**json.loads(row.result_json), "fallback": "api kick", "kicked": result.get("count", 0)}
    row.state, row.last_error, row.finished_at = CommandState.done, "", utcnow()
    row.result_json = json.dumps(result, default=str)
    if row.operation == "router.test":
        router = row.router
        router.identity, router.version, router.board = result["identity"], result["version"], result["board"]


def _release(rows: list[RouterCommand]) -> list[RouterCommand]:
    """Put claimed rows back as they were (nothing was attempted); returns those still to run."""
    for row in rows:
        row.state, row.attempts, row.claimed_by = CommandState.pending, max(0, row.attempts - 1), None
    live = settle_unclaimed(rows, "not run: no connection was free")
    db.session.commit()
    return live


def _retry_or_die(failures: list[tuple[RouterCommand, RouterError]], config: dict) -> None:
    """Schedule a retry with backoff for each failed row, or mark it dead after RETRY_MAX attempts.

    A probe (an operator's connection test) answers once: it ends `discarded` with its error,
    never retried and never a dead letter.
    """
    reclaim_keys([row for row, _ in failures])
    died: list[RouterCommand] = []
    for row, error in failures:
        row.last_error, row.updated_at = str(error)[:2000], utcnow()
        if row.operation in operations.PROBES:
            row.state, row.finished_at, row.open_key = CommandState.discarded, utcnow(), None
        elif row.open_key is None:
            row.state, row.finished_at = CommandState.discarded, utcnow()
            row.last_error += "\n[superseded by a newer command for the same item]"
        elif row.attempts >= config["RETRY_MAX"]:
            row.state, row.finished_at, row.open_key = CommandState.dead, utcnow(), None
            died.append(row)
            log.error("command %s (%s) is dead after %s attempts: %s", row.id, row.operation, row.attempts, error)
        else:
            delay = dispatch.backoff(row.attempts, config["RETRY_BASE"], config["RETRY_CAP"])
            job = dispatch.command_job(row.id, row.priority.value, delay)
            row.state, row.job_id = CommandState.failed, job.job_id
            row.next_attempt_at = utcnow() + timedelta(seconds=delay)
            dispatch.after_commit(db.session, job)
    if died:
        _audit_dead(died[0].router, died, str(failures[-1][1]))


def _audit_dead(router: Router, rows: list[RouterCommand], error: str) -> None:
    """One audit row per settled chunk that dead-lettered commands (a bulk push may lose thousands at once: counts
    and the first ids, not a row per command); the job's commit writes it with the rows' new state."""
    if not rows:
        return
    ids = ", ".join(f"#{row.id}" for row in rows[:10]) + (" …" if len(rows) > 10 else "")
    audit.record(None, "outbox.dead", router.name, f"{len(rows)} command(s) dead-lettered ({ids}): {error}"[:1000],
                 obj=rows[0] if len(rows) == 1 else router,
                 changes={"dead commands": [None, len(rows)]})
