"""Small helpers shared by the pipeline tests."""
from __future__ import annotations

from isp.extensions import db
from isp.models import Priority, Router, RouterCommand
from isp.services import outbox


def queue_users(app, router_id: int, names: list[str], priority: Priority = Priority.high, bulk: bool = False) -> list[int]:
    """Queue ensure-hotspot-user commands and commit; returns command ids."""
    with app.app_context():
        router = db.session.get(Router, router_id)
        items = [("hotspot_user.ensure", f"hotspot_user:{n}", {"attrs": {"name": n, "password": f"pw-{n}"}}) for n in names]
        if bulk:
            ids = outbox.queue_bulk(router, items, group="test", chunk=app.config["BULK_CHUNK"])
        else:
            ids = [outbox.queue_command(router, op, key, payload, priority).id for op, key, payload in items]
        db.session.commit()
        return ids


def states(app, ids: list[int] | None = None) -> dict[int, str]:
    """Command id -> state name."""
    with app.app_context():
        stmt = db.select(RouterCommand)
        if ids is not None:
            stmt = stmt.where(RouterCommand.id.in_(ids))
        return {c.id: c.state.value for c in db.session.scalars(stmt)}


def command(app, command_id: int) -> RouterCommand:
    """A detached copy of one command row."""
    with app.app_context():
        row = db.session.get(RouterCommand, command_id)
        db.session.expunge(row)
        return row


def user_names(sim_router) -> list[str]:
    """Hotspot user names on a simulated router."""
    return [row["name"] for row in sim_router.state.rows("/ip/hotspot/user")]
