"""Recording actions in the audit log, in the caller's transaction (the view, command or job commits once).

    before = audit.snapshot(plan, ("name", "price"))
    ... change plan ...
    audit.record(user, "plan.edit", obj=plan, changes=audit.diff(before, audit.snapshot(plan, ("name", "price"))))

`via` (web, api, cli, job) and the client IP come from the context: a request fills the IP and says web (the API
sets via="api" with `audit.source("api")`); CLI commands and jobs wrap their work in `audit.source("cli")` or
`audit.source("job")`. Field names that look secret are masked in `changes` and never stored.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from enum import Enum

from flask import has_request_context, request

from isp.extensions import db
from isp.models import AuditEntry, User

MASK = "••••••"
# A field whose name contains one of these is recorded as changed, never with its value.
SECRET_PARTS = ("password", "secret", "token", "key", "hash", "code")

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
    return any(part in name for part in SECRET_PARTS)


def _plain(value: object) -> object:
    """A JSON-safe form of a column value."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return str(value)


def snapshot(obj: object, fields: Iterable[str]) -> dict[str, object]:
    """The named attributes of obj as plain values (secrets masked), for diff()."""
    return {f: (MASK if is_secret(f) and getattr(obj, f, None) not in (None, "") else _plain(getattr(obj, f, None)))
            for f in fields}


def diff(before: dict[str, object], after: dict[str, object]) -> dict[str, list[object]]:
    """{field: [before, after]} for the fields that differ; a secret field shows only that it changed."""
    changes: dict[str, list[object]] = {}
    for field in sorted(set(before) | set(after)):
        old, new = before.get(field), after.get(field)
        if old == new and not is_secret(field):
            continue
        if is_secret(field):
            if old == new and old != MASK:
                continue
            changes[field] = [MASK if old not in (None, "") else None, MASK]
        else:
            changes[field] = [_plain(old), _plain(new)]
    return changes


def record(actor: User | None, action: str, target: str = "", detail: str = "", *, obj: object | None = None,
           changes: dict[str, list[object]] | None = None, via: str | None = None) -> AuditEntry:
    """Add an audit entry to the session (never include secrets in detail).

    obj: the changed row; its table name and id fill target_type/target_id (and target, when blank).
    """
    target_type, target_id = "", None
    if obj is not None:
        target_type = getattr(obj, "__tablename__", type(obj).__name__.lower())[:32]
        target_id = getattr(obj, "id", None)
        if not target:
            target = f"{target_type} #{target_id}"
    ip = ""
    if has_request_context():
        ip = (request.remote_addr or "")[:45]
    entry = AuditEntry(
        actor_id=actor.id if actor is not None and getattr(actor, "id", None) else None,
        action=action, target=target[:128], detail=detail, target_type=target_type, target_id=target_id,
        changes=json.dumps(changes, sort_keys=True, ensure_ascii=False) if changes else "", ip=ip,
        via=via or _source.get() or ("web" if has_request_context() else "job"),
    )
    db.session.add(entry)
    return entry
