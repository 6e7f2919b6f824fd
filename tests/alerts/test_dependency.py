"""Dependency suppression across poll batches: a child behind a dying uplink is held from its opening, and stays
held while it comes back after its parent."""
from __future__ import annotations

import pytest

from isp.extensions import db
from isp.models import AlertState, Router
from tests.alerts.conftest import alerts_of, at, evaluate, events_of, notes_of


@pytest.fixture
def webhook(channel, receiver):
    channel("webhook", url=receiver.url("/alerts"), secret="whsec-alerts")
    return receiver


def _seen(app, **routers):
    with app.app_context():
        for router_id, when in routers.values():
            db.session.get(Router, router_id).last_seen_at = when
        db.session.commit()


def test_a_child_polled_in_another_batch_is_held_from_its_opening_and_through_its_recovery(
        app, make_rule, make_router, webhook):
    from isp.services import alert_suppress

    core, edge = make_router(name="core"), make_router(name="edge")
    make_rule("Router offline", channels="webhook")  # 45 s
    with app.app_context():
        db.session.get(Router, edge.id).parent_id = core.id
        db.session.commit()
        grace = alert_suppress.dependency_grace().total_seconds()
    # Polled in different batches: the child was last reached 8 s before its parent, then the uplink died.
    _seen(app, core=(core.id, at(0)), edge=(edge.id, at(-8)))
    evaluate(app, None, at(37))  # the child crosses 45 s first; its parent is at 37 s
    [child] = alerts_of(app, router_id=edge.id)
    assert child.state == AlertState.open and child.suppressed == "dependency"
    evaluate(app, None, at(45))  # now the parent is offline too, and its alert is the one sent
    [parent] = alerts_of(app, router_id=core.id)
    assert parent.suppressed == "" and [n.alert_id for n in notes_of(app)] == [parent.id]
    # The uplink is back: the parent is reached first and resolves; the child a poll or two later.
    _seen(app, core=(core.id, at(50)))
    evaluate(app, None, at(52))
    assert alerts_of(app, router_id=core.id)[0].state == AlertState.resolved
    evaluate(app, None, at(62))
    assert alerts_of(app, router_id=edge.id)[0].suppressed == "dependency"  # still within the grace
    assert 62 < 52 + grace
    _seen(app, edge=(edge.id, at(64)))
    evaluate(app, None, at(66))
    [child] = alerts_of(app, router_id=edge.id)
    assert child.state == AlertState.resolved
    assert notes_of(app, child.id) == []  # neither "opened" nor "resolved" for the child
    assert [k for k, _ in events_of(app, child.id)] == ["opened", "suppressed", "resolved"]


def test_a_parent_whose_last_poll_failed_holds_its_children(app, make_rule, make_router, webhook):
    core, edge = make_router(name="core"), make_router(name="edge")
    make_rule("Router offline", channels="webhook")
    with app.app_context():
        db.session.get(Router, edge.id).parent_id = core.id
        db.session.get(Router, core.id).last_error = "connection timed out"
        db.session.commit()
    _seen(app, core=(core.id, at(30)), edge=(edge.id, at(-10)))
    evaluate(app, None, at(40))
    [child] = alerts_of(app, router_id=edge.id)
    assert child.suppressed == "dependency" and notes_of(app) == []
