"""The router command outbox: queue idempotent operations in the business transaction."""
from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload

from isp import dispatch
from isp.extensions import db
from isp.models import CommandState, Priority, Router, RouterCommand, User
from isp.models.base import utcnow
from isp.routeros.operations import OPERATIONS, PROBES
from isp.services import audit, bulk
from isp.sqlutil import chunked

# What an audit row of a dead-letter decision compares (never the payload: it may carry a password).
AUDITED = ("state", "attempts", "priority")
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


def _holders(open_keys: Iterable[str]) -> dict[str, int]:
    """open_key -> id of the unfinished row holding it, for those keys held at all (one query per 500)."""
    held: dict[str, int] = {}
    for part in chunked(sorted(set(open_keys))):
        held.update(db.session.execute(select(RouterCommand.open_key, RouterCommand.id).where(
            RouterCommand.open_key.in_(part))).tuples().all())
    return held


def reclaim_keys(rows: list[RouterCommand]) -> None:
    """Give rows back their collapse key (one query), unless a newer command for the same item holds it.

    A row left with open_key None has been superseded: the newer command carries the latest state.
    """
    holders = _holders({_open_key(r.router_id, r.idempotency_key) for r in rows})
    for row in rows:
        key = _open_key(row.router_id, row.idempotency_key)
        holder = holders.setdefault(key, row.id)
        row.open_key = key if holder == row.id else None


def settle_unclaimed(rows: list[RouterCommand], reason: str) -> list[RouterCommand]:
    """Rows going back to pending without having run: give them their key back, or end them.

    A row a newer command superseded meanwhile (its key is now held elsewhere) is discarded, so its
    older state can never land after the newer one; a probe is discarded too (it answers once or
    not at all). Returns the rows still to run.
    """
    reclaim_keys(rows)
    live = []
    for row in rows:
        if row.open_key is None or row.operation in PROBES:
            row.state, row.open_key, row.finished_at = CommandState.discarded, None, utcnow()
            why = "superseded by a newer command for the same item" if row.operation not in PROBES else reason
            row.last_error = f"{row.last_error}\n[{why}]".strip()
        else:
            live.append(row)
    return live


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
    """The unfinished row holding a collapse key, locked until our commit so no worker claims it meanwhile.

    A plain read finds the row first and only then is it locked by primary key: a locking read of
    a key that does not exist would take a gap lock on MariaDB, and two sessions holding the same
    gap then deadlock on each other's INSERT.
    """
    found = db.session.scalar(select(RouterCommand.id).where(RouterCommand.open_key == open_key))
    if found is None:
        return None
    return db.session.scalar(_locking(select(RouterCommand).where(RouterCommand.id == found, RouterCommand.open_key == open_key)))


def _locking(stmt: Select) -> Select:
    """SELECT … FOR UPDATE of outbox rows only.

    The row's router is otherwise joined in eagerly, and FOR UPDATE would lock the routers row
    too: every session inserting commands for that router already holds a shared lock on it (the
    foreign-key check), so two of them upgrading to exclusive deadlock (MariaDB 1213).
    """
    return stmt.options(lazyload(RouterCommand.router)).with_for_update().execution_options(populate_existing=True)


def _escalate(command: RouterCommand, priority: Priority, enqueue: bool) -> None:
    """Collapsed: the latest desired state wins, at the most urgent priority asked for."""
    if _URGENCY.index(priority) < _URGENCY.index(command.priority):
        command.priority = priority
        if enqueue:
            job = dispatch.command_job(command.id, priority.value)
            command.job_id = job.job_id
            dispatch.after_commit(db.session, job)


def queue_command(router: Router, operation: str, key: str, payload: dict, priority: Priority = Priority.high,
                  group: str | None = None, enqueue: bool = True) -> RouterCommand:
    """Add (or collapse into the pending) command for `key` on `router`; flushes, never commits."""
    _check_operation(operation)
    open_key = _open_key(router.id, key)
    for attempt in range(3):
        existing = _holder(open_key)
        if existing is not None and _collapse(existing, open_key, operation, payload):
            db.session.refresh(existing)  # the caller gets the row as collapsed
            _escalate(existing, priority, enqueue)
            db.session.flush()
            return existing
        # No row holds the key (or a worker claimed it meanwhile): this change needs its own row.
        command = _new_command(router, operation, key, payload, priority, group)
        try:
            with db.session.begin_nested():
                db.session.add(command)
            break
        except IntegrityError:
            # Another session queued the same key a moment ago: look again and collapse into its row
            # (or, if a worker claimed that row in between, insert ours once more).
            if attempt == 2:
                raise
    if enqueue:
        job = dispatch.command_job(command.id, priority.value)
        command.job_id = job.job_id
        dispatch.after_commit(db.session, job)
    return command


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
    # Plain read, then lock only the rows found (by primary key): no gap locks on the keys that are new.
    for ids in chunked(sorted(_holders(keys).values())):
        existing.update({c.open_key: c for c in db.session.scalars(
            _locking(select(RouterCommand).where(RouterCommand.id.in_(ids)))) if c.open_key is not None})
    rows, seen = [], set()
    for (op, key, payload), open_key in zip(items, keys, strict=True):
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
    id_of = _holders(keys)
    for part in chunked(sorted(set(id_of.values())), chunk):
        job = dispatch.batch_job(router.id, part, priority.value)
        db.session.execute(update(RouterCommand).where(RouterCommand.id.in_(part), RouterCommand.state == CommandState.pending)
                           .values(job_id=job.job_id), execution_options={"synchronize_session": False})
        dispatch.after_commit(db.session, job)
    return [id_of[key] for key in keys]


def _audit(actor: User | None, action: str, command: RouterCommand, before: dict, detail: str = "") -> None:
    """One audit row for an operator's decision on a dead letter (never its payload: it may carry a password)."""
    audit.record(actor, action, f"{command.operation} on {command.router.name}"[:128], detail, obj=command,
                 changes=audit.changed(before, command))


def retry_dead(command: RouterCommand, actor: User | None = None) -> RouterCommand:
    """Give a dead command a fresh set of attempts (or discard it if a newer one superseded it); audited."""
    if command.state not in (CommandState.dead, CommandState.discarded):
        raise ValueError("only dead or discarded commands can be retried")
    before = audit.snapshot(command, AUDITED)
    open_key = _open_key(command.router_id, command.idempotency_key)
    newer = db.session.scalar(select(RouterCommand).where(RouterCommand.open_key == open_key))
    if newer is not None and newer.id != command.id:
        command.state = CommandState.discarded
        command.last_error = f"superseded by command #{newer.id}"
        db.session.flush()
        _audit(actor, "outbox.retry", command, before, f"superseded by command #{newer.id}")
        return newer
    job = dispatch.command_job(command.id, command.priority.value)
    command.state, command.attempts, command.open_key = CommandState.pending, 0, open_key
    command.next_attempt_at, command.job_id = utcnow(), job.job_id
    db.session.flush()
    _audit(actor, "outbox.retry", command, before)
    dispatch.after_commit(db.session, job)
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
    for part in chunked(revived, chunk):
        job = dispatch.batch_job(router.id, [row.id for row in part])
        for row in part:
            row.job_id = job.job_id
        dispatch.after_commit(db.session, job)
    db.session.flush()
    return len(revived)


def discard(command: RouterCommand, reason: str, actor: User | None = None) -> None:
    """Give up on a dead command; audited."""
    if command.state != CommandState.dead:
        raise ValueError("only dead commands can be discarded")
    before = audit.snapshot(command, AUDITED)
    command.state = CommandState.discarded
    command.open_key = None
    command.last_error = f"{command.last_error}\n[discarded: {reason}]".strip()
    command.finished_at = utcnow()
    db.session.flush()
    _audit(actor, "outbox.discard", command, before, reason[:500])


def overdue(grace: float, limit: int = 500) -> list[RouterCommand]:
    """Pending or failed rows that should have run by now (their job was lost from Redis).

    Rows stuck running on a dead worker are reset to pending by the sweep before it asks.
    """
    cutoff = utcnow() - timedelta(seconds=grace)
    return list(db.session.scalars(
        select(RouterCommand)
        .where(RouterCommand.state.in_([CommandState.pending, CommandState.failed]), RouterCommand.next_attempt_at <= cutoff)
        .order_by(RouterCommand.id).limit(limit)
    ))
