"""Helpers for the audit tests: read the log back as plain values."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from isp.extensions import db as _db
from isp.models import AuditEntry

IP = "192.0.2.7"


def entries(app, action: str | None = None) -> list[SimpleNamespace]:
    """The audit rows (of one action), oldest first, with changes parsed."""
    with app.app_context():
        stmt = select(AuditEntry).order_by(AuditEntry.id)
        if action is not None:
            stmt = stmt.where(AuditEntry.action == action)
        return [SimpleNamespace(id=e.id, at=e.at, actor_id=e.actor_id, action=e.action, target=e.target, detail=e.detail,
                                via=e.via, ip=e.ip, target_type=e.target_type, target_id=e.target_id,
                                changes=json.loads(e.changes) if e.changes else {}, raw=e.changes)
                for e in _db.session.scalars(stmt)]


def everything(app) -> str:
    """Every text the log holds, to look for a secret in."""
    return " ".join(f"{e.target} {e.detail} {e.raw}" for e in entries(app))


@pytest.fixture
def web(app):
    """A request context from IP (as a view runs), for calling services the way a view does."""
    def factory():
        return app.test_request_context("/", environ_base={"REMOTE_ADDR": IP})

    return factory
