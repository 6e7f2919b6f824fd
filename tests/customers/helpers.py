"""Small helpers of the customer tests: read and settle the router outbox."""
from __future__ import annotations

from sqlalchemy import update

from isp.extensions import db
from isp.models import CommandState, RouterCommand


def commands(app, operation: str | None = None) -> list[dict]:
    """Outbox rows (oldest first) as dicts: router_id, operation, key, state, payload."""
    with app.app_context():
        stmt = db.select(RouterCommand).order_by(RouterCommand.id)
        if operation:
            stmt = stmt.where(RouterCommand.operation == operation)
        return [{"router_id": c.router_id, "operation": c.operation, "key": c.idempotency_key, "state": c.state.value,
                 "payload": c.payload} for c in db.session.scalars(stmt)]


def settle_all(app) -> None:
    """Mark every queued command done, as if a worker had run them (the next change queues fresh rows)."""
    with app.app_context():
        db.session.execute(update(RouterCommand).values(state=CommandState.done, open_key=None))
        db.session.commit()
