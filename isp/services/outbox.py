"""The router command outbox: queue idempotent operations in the business transaction."""
from __future__ import annotations

from datetime import timedelta

import json

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from isp.extensions import db
from isp.jobs.queues import after_commit, batch_job_id, command_job_id
from isp.models import CommandState, Priority, Router, RouterCommand
from isp.models.base import utcnow
from isp.routeros.operations import OPERATIONS
from isp.services import bulk

_URGENCY = [p for p in Priority]  # declaration order = most urgent first


def _open_key(router_id: int, key: str) -> str:
    return f"{router_id}:{key}"


def _check_operation(operation: str) -> None:
    if operation not in OPERATIONS:
        raise ValueError(f"unknown router operation {operation!r}")


def _new_command(router: Router, operation: str, key: str, payload: dict, priority: Priority,
                 group: str | None) -> RouterCommand:
    """A pending row holding the collapse key for `key`."""
    command = RouterCommand(router_id=router.id, operation=operation, idempotency_key=key,
                            open_key=_open_key(router.id, key), priority=priority, state=CommandState.pending,
                            group_key=group, next_attempt_at=utcnow())
    command.payload = payload
    return command


def reclaim_keys(rows: list[RouterCommand]) -> None:
    """Give rows back their collapse key (one query), unless a newer command for the same item holds it.

    A row left with open_key None has been superseded: the newer command carries the latest state.
    """
    keys = {_open_key(r.router_id, r.idempotency_key) for r in rows}
    holders: dict[str, int] = {}
    ordered = sorted(keys)
    for start in range(0, len(ordered), 500):
        holders.update(db.session.execute(select(RouterCommand.open_key, RouterCommand.id).where(
            RouterCommand.open_key.in_(ordered[start:start + 500]))).tuples().all())
    for row in rows:
        key = _open_key(row.router_id, row.idempotency_key)
        holder = holders.setdefault(key, row.id)
        row.open_key = key if holder == row.id else None


def _collapse(command: RouterCommand, open_key: str, operation: str, payload: dict) -> bool:
    """Write the latest desired state into a pending row, only if it still holds the key.

    A worker's claim clears open_key, so the conditional UPDATE finds nothing once the row
    is running: the caller then queues a new row instead of changing one already executing.
    """
    changed = db.session.execute(update(RouterCommand).where(
        RouterCommand.id == command.id, RouterCommand.open_key == open_key).values(
        operation=operation, payload_json=json.dumps(payload, sort_keys=True, default=str)),
        execution_options={"synchronize_session": False}).rowcount
    return bool(changed)


def _holder(open_key: str) -> RouterCommand | None:
    """The unfinished row holding a collapse key, locked (on MariaDB) until our commit so no worker claims it meanwhile."""
    return db.session.scalar(select(RouterCommand).where(RouterCommand.open_key == open_key).with_for_update())


def queue_command(router: Router, operation: str, key: str, payload: dict, priority: Priority = Priority.high,
                  group: str | None = None, enqueue: bool = True) -> RouterCommand:
    """Add (or collapse into the pending) command for `key` on `router`; flushes, never commits."""
    _check_operation(operation)
    open_key = _open_key(router.id, key)
    existing = _holder(open_key)
    if existing is not None and not _collapse(existing, open_key, operation, payload):
        existing = None  # claimed by a worker meanwhile: this change needs its own row
    elif existing is not None:
        db.session.refresh(existing)  # the caller gets the row as collapsed
    if existing is None:
        command = _new_command(router, operation, key, payload, priority, group)
        try:
            with db.session.begin_nested():
                db.session.add(command)
        except IntegrityError:  # another process queued the same key a moment ago
            existing = _holder(open_key)
            if existing is None or not _collapse(existing, open_key, operation, payload):
                raise
            db.session.refresh(existing)
        else:
            if enqueue:
                command.job_id = command_job_id(command.id)
                after_commit(db.session, "command", command.id, priority.value)
            return command
    # Collapsed: the latest desired state wins, at the most urgent priority asked for.
    if _URGENCY.index(priority) < _URGENCY.index(existing.priority):
        existing.priority = priority
        if enqueue:
            existing.job_id = command_job_id(existing.id)
            after_commit(db.session, "command", existing.id, priority.value)
    db.session.flush()
    return existing


def queue_bulk(router: Router, items: list[tuple[str, str, dict]], group: str, chunk: int,
               priority: Priority = Priority.bulk) -> list[int]:
    """Queue many operations on the bulk queue, in chunk jobs pushed over one connection each; returns ids in order.

    One IN query per 500 keys finds the keys already pending (they collapse into the
    existing rows); the rest go in one multi-row Core INSERT (the ORM would insert row by
    row to learn each new id), then one UPDATE per chunk names its job.
    """
    for op, _, _ in items:
        _check_operation(op)
    keys = [_open_key(router.id, key) for _, key, _ in items]
    existing: dict[str, RouterCommand] = {}
    for start in range(0, len(keys), 500):
        existing.update({c.open_key: c for c in db.session.scalars(
            select(RouterCommand).where(RouterCommand.open_key.in_(keys[start:start + 500])).with_for_update())})
    rows, seen = [], set()
    for (op, key, payload), open_key in zip(items, keys):
        command = existing.get(open_key)
        if command is not None and _collapse(command, open_key, op, payload):
            continue  # the latest desired state wins
        if open_key not in seen:
            seen.add(open_key)
            rows.append((op, key, open_key, json.dumps(payload, sort_keys=True, default=str)))
    db.session.flush()
    now = utcnow()
    bulk.insert_rows(RouterCommand.__table__, {
        "router_id": router.id, "priority": priority, "state": CommandState.pending, "group_key": group, "attempts": 0,
        "last_error": "", "result": "", "created_at": now, "updated_at": now, "next_attempt_at": now,
    }, ("operation", "idempotency_key", "open_key", "payload"), rows)
    id_of: dict[str, int] = {}
    for start in range(0, len(keys), 500):
        id_of.update(db.session.execute(select(RouterCommand.open_key, RouterCommand.id).where(
            RouterCommand.open_key.in_(keys[start:start + 500]))).tuples().all())
    ids = sorted(set(id_of.values()))
    for start in range(0, len(ids), chunk):
        part = ids[start:start + chunk]
        db.session.execute(update(RouterCommand).where(RouterCommand.id.in_(part), RouterCommand.state == CommandState.pending)
                           .values(job_id=batch_job_id(router.id, part)), execution_options={"synchronize_session": False})
        after_commit(db.session, "batch", router.id, part, priority.value)
    return [id_of[key] for key in keys]


def retry_dead(command: RouterCommand) -> RouterCommand:
    """Give a dead command a fresh set of attempts (or discard it if a newer one superseded it)."""
    if command.state not in (CommandState.dead, CommandState.discarded):
        raise ValueError("only dead or discarded commands can be retried")
    open_key = _open_key(command.router_id, command.idempotency_key)
    newer = db.session.scalar(select(RouterCommand).where(RouterCommand.open_key == open_key))
    if newer is not None and newer.id != command.id:
        command.state = CommandState.discarded
        command.last_error = f"superseded by command #{newer.id}"
        db.session.flush()
        return newer
    command.state, command.attempts, command.open_key = CommandState.pending, 0, open_key
    command.next_attempt_at, command.job_id = utcnow(), command_job_id(command.id)
    db.session.flush()
    after_commit(db.session, "command", command.id, command.priority.value)
    return command


def retry_group(router: Router, group: str, chunk: int, keep: set[str] | None = None) -> int:
    """Retry every dead row of a group (e.g. a voucher batch) in chunk jobs.

    Rows a newer command superseded, and rows whose key is not in `keep` (say, a voucher
    deleted since), are discarded instead: retrying them would undo a later decision.
    """
    rows = list(db.session.scalars(select(RouterCommand).where(
        RouterCommand.group_key == group, RouterCommand.state == CommandState.dead).order_by(RouterCommand.id)))
    reclaim_keys(rows)
    revived = []
    for row in rows:
        if row.open_key is None or (keep is not None and row.idempotency_key not in keep):
            row.state, row.open_key = CommandState.discarded, None
            row.last_error = f"{row.last_error}\n[not retried: superseded, or the item no longer wants it]".strip()
            continue
        row.state, row.attempts, row.next_attempt_at, row.claimed_by = CommandState.pending, 0, utcnow(), None
        revived.append(row)
    for start in range(0, len(revived), chunk):
        part = revived[start:start + chunk]
        ids = [row.id for row in part]
        for row in part:
            row.job_id = batch_job_id(router.id, ids)
        after_commit(db.session, "batch", router.id, ids, "bulk")
    db.session.flush()
    return len(revived)


def discard(command: RouterCommand, reason: str) -> None:
    """Give up on a dead command."""
    if command.state != CommandState.dead:
        raise ValueError("only dead commands can be discarded")
    command.state = CommandState.discarded
    command.open_key = None
    command.last_error = f"{command.last_error}\n[discarded: {reason}]".strip()
    command.finished_at = utcnow()
    db.session.flush()


def backoff(attempt: int, base: float, cap: float, rng=None) -> float:  # noqa: ANN001
    """Exponential backoff with full jitter: uniform(0.5, 1) × min(cap, base × 2^(attempt-1))."""
    import random

    rng = rng or random
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return ceiling * (0.5 + rng.random() / 2)


def overdue(grace: float, limit: int = 500) -> list[RouterCommand]:
    """Unfinished rows that should have run by now (lost from Redis, or stuck running)."""
    cutoff = utcnow() - timedelta(seconds=grace)
    return list(db.session.scalars(
        select(RouterCommand)
        .where(RouterCommand.state.in_([CommandState.pending, CommandState.failed]), RouterCommand.next_attempt_at <= cutoff)
        .order_by(RouterCommand.id).limit(limit)
    ))
