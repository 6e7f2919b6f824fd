"""Recording actions in the audit log, in the caller's transaction (the view, command or job commits once).

    before = audit.state(plan, "routers")          # every column (less bookkeeping) plus a relationship
    ... change plan ...
    audit.record(user, "plan.update", plan.name, obj=plan, changes=audit.changed(before, plan))

`snapshot(obj, fields)`/`diff(before, after)` do the same for chosen fields; `diff({}, state(obj))` is a create and
`diff(state(obj), {})` a delete. `obj=` fills target_type (the table) and target_id, which the audit page filters
and links on. A row recorded before its object has an id is finished with `complete(entry, obj, changes)`.

Secrets: a field whose name looks secret (password, secret, token, key, hash, code) is sealed in a snapshot (a mask
plus a per-process keyed digest, so diff() tells an unchanged secret from a new one) and stored only as MASK; a JSON
text column (`*_json`) is read and its secret-named keys sealed the same way. Never put a secret in `detail`.

`via` (web, api, cli, job) and the client IP come from the context: a request fills the IP and says web (the API
sets via="api" with `audit.source("api")`); every `flask` command of ours runs under `audit.source("cli")`
(isp/cli/audited.py) and every worker job under `audit.source("job")` (isp/jobs/worker.py); without either, no
request means job. A bulk, set-based job records one summary row per run or chunk with counts, never one per row.
"""
from __future__ import annotations

import contextlib
import contextvars
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from enum import Enum

from flask import has_request_context, request
from sqlalchemy import inspect as sa_inspect

from isp.extensions import db
from isp.models import AuditEntry, User

MASK = "••••••"
# A field whose name contains one of these is recorded as changed, never with its value.
SECRET_PARTS = ("password", "secret", "token", "key", "hash", "code")
# Names that contain such a part but hold nothing secret (shown as they are).
NOT_SECRET = ("public_key", "code_length")

# Per process: a sealed secret's digest only tells two snapshots apart, it is useless outside this process.
_SEAL_KEY = secrets.token_bytes(32)

_source: contextvars.ContextVar[str | None] = contextvars.ContextVar("isp_audit_source", default=None)


@contextlib.contextmanager
def source(via: str) -> Iterator[None]:
    """Mark everything recorded inside as coming from `via` (api, cli or job)."""
    token = _source.set(via)
    try:
        yield
    finally:
        _source.reset(token)


def is_secret(field: str) -> bool:
    """True for a field whose value must never be stored in the audit log."""
    name = field.lower()
    return any(part in name for part in SECRET_PARTS) and not any(part in name for part in NOT_SECRET)


# Bookkeeping columns that every row has and nobody edits: left out of fields().
BOOKKEEPING = frozenset({"id", "created_at", "updated_at", "lock_version"})


def _plain(value: object) -> object:
    """A JSON-safe form of a column value (a related row: its name, else its id)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) or _is_rows(value) else items
    if isinstance(value, dict):
        return {str(k): _seal(v) if is_secret(str(k)) else _plain(v) for k, v in value.items()}
    if hasattr(value, "__tablename__"):
        return str(getattr(value, "name", None) or getattr(value, "username", None) or getattr(value, "id", ""))
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return str(value)


def _is_rows(value: Iterable[object]) -> bool:
    """True for a collection of mapped rows (a relationship: its order means nothing)."""
    return any(hasattr(v, "__tablename__") for v in value)


def fields(obj: object, *extra: str, exclude: Iterable[str] = ()) -> tuple[str, ...]:
    """obj's column attributes less bookkeeping ones and `exclude`, plus `extra` (relationships such as routers)."""
    skip = BOOKKEEPING | set(exclude)
    names = [attr.key for attr in sa_inspect(type(obj)).column_attrs if attr.key not in skip]
    return tuple(names) + tuple(extra)


def state(obj: object, *extra: str, exclude: Iterable[str] = ()) -> dict[str, object]:
    """snapshot() of every column of obj (see fields()): the 'before' of an edit, or the whole of a create/delete."""
    return snapshot(obj, fields(obj, *extra, exclude=exclude))


def changed(before: dict[str, object], obj: object) -> dict[str, list[object]]:
    """diff() between `before` and obj now, over the same fields."""
    return diff(before, snapshot(obj, before))


def _seal(value: object) -> str | None:
    """A secret as MASK plus a keyed digest, so diff() sees whether it changed; the digest never leaves diff()."""
    if value in (None, ""):
        return None
    digest = hmac.new(_SEAL_KEY, str(value).encode(), hashlib.sha256).hexdigest()[:16]
    return f"{MASK}#{digest}"


def _masked(value: object) -> str | None:
    """What a secret field shows in changes: MASK when set, None when empty."""
    return None if value in (None, "") else MASK


def _value(obj: object, field: str) -> object:
    """One attribute as a plain value: a secret masked, a JSON text column read (its secret keys masked)."""
    value = getattr(obj, field, None)
    if is_secret(field):
        return _seal(value)
    if field.endswith("_json") and isinstance(value, str):
        try:
            value = json.loads(value or "null")
        except ValueError:
            pass
    return _plain(value)


def snapshot(obj: object, fields: Iterable[str]) -> dict[str, object]:
    """The named attributes of obj as plain values (secrets masked), for diff()."""
    return {f: _value(obj, f) for f in fields}


def diff(before: dict[str, object], after: dict[str, object]) -> dict[str, list[object]]:
    """{field: [before, after]} for the fields that differ; a secret field shows only that it changed (MASK)."""
    changes: dict[str, list[object]] = {}
    for field in sorted(set(before) | set(after)):
        old, new = before.get(field), after.get(field)
        if old == new or (old in (None, "") and new in (None, "")):
            continue
        if is_secret(field) or _sealed(old) or _sealed(new):
            changes[field] = [_masked(old), _masked(new)]
        else:
            changes[field] = [_shown(old), _shown(new)]
    return changes


def _shown(value: object) -> object:
    """A plain value as stored in changes: sealed secrets inside it (a JSON column's keys) become MASK."""
    if _sealed(value):
        return MASK
    if isinstance(value, dict):
        return {k: _shown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shown(v) for v in value]
    return _plain(value)


def _sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(MASK)


def record(actor: User | None, action: str, target: str = "", detail: str = "", *, obj: object | None = None,
           changes: dict[str, list[object]] | None = None, via: str | None = None) -> AuditEntry:
    """Add an audit entry to the session (never include secrets in detail).

    obj: the changed row; its table name and id fill target_type/target_id (and target, when blank).
    """
    target_type, target_id = _target(obj)
    if obj is not None and not target:
        target = f"{target_type} #{target_id}"
    via = via or _source.get() or ("web" if has_request_context() else "job")
    if actor is None and via == "cli" and not detail:
        detail = "cli"  # a command run by nobody in particular (no --as user): say where it came from
    ip = ""
    if has_request_context() and via in ("web", "api"):  # a command or a job has no caller address, whatever runs it
        ip = (request.remote_addr or "")[:45]
    entry = AuditEntry(
        actor_id=actor.id if actor is not None and getattr(actor, "id", None) else None,
        action=action, target=target[:128], detail=detail, target_type=target_type, target_id=target_id,
        changes=_json(changes), ip=ip,
        via=via,
    )
    db.session.add(entry)
    return entry


def _target(obj: object | None) -> tuple[str, int | None]:
    """(target_type, target_id) of a row: its table name and id (a row new in this unit of work is flushed first)."""
    if obj is None:
        return "", None
    if getattr(obj, "id", None) is None and obj in db.session.new:
        db.session.flush()  # a row created in this unit of work: its id names the target
    return getattr(obj, "__tablename__", type(obj).__name__.lower())[:32], getattr(obj, "id", None)


def _json(changes: dict[str, list[object]] | None) -> str:
    return json.dumps(changes, sort_keys=True, ensure_ascii=False) if changes else ""


def complete(entry: AuditEntry, obj: object, changes: dict[str, list[object]] | None = None) -> AuditEntry:
    """Name the target and the diff of an entry recorded before its row existed (the row's id comes later)."""
    entry.target_type, entry.target_id = _target(obj)
    entry.changes = _json(changes)
    return entry
