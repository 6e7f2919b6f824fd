"""An operator acting on an alert the engine resolved meanwhile is refused: no acknowledged row without its open_key."""
from __future__ import annotations

import pytest
from sqlalchemy import update

from isp.extensions import db
from isp.models import Alert, AlertState, User
from isp.services.errors import ServiceError
from tests.alerts.conftest import alerts_of, at, evaluate, events_of, write_sample

A = AlertState


def _engine_resolves_elsewhere(alert_id):
    """The engine's pass in another worker: its own connection, committed."""
    with db.engine.begin() as conn:
        conn.execute(update(Alert).where(Alert.id == alert_id).values(state=A.resolved, resolved_at=at(20),
                                                                      open_key=None))


@pytest.mark.parametrize("verb", ["acknowledge", "resolve"])
def test_acting_on_an_alert_resolved_meanwhile_is_refused(app, make_rule, router, make_user, verb):
    from isp.services import alerts

    make_rule("CPU load", for_seconds=0)
    operator = make_user("operator")
    write_sample(app, router.id, at(0), cpu=95)
    evaluate(app, router.id, at(0))
    [opened] = alerts_of(app, state=A.open)
    with app.app_context():
        actor = db.session.get(User, operator.id)
        loaded = db.session.get(Alert, opened.id)  # the operator's request has read it: open
        assert loaded.state == A.open
        _engine_resolves_elsewhere(opened.id)
        with pytest.raises(ServiceError, match=f"resolved meanwhile and cannot be {verb}d"):
            getattr(alerts, verb)(actor, opened.id, "on it")
        db.session.commit()
    [alert] = alerts_of(app)
    assert alert.state == A.resolved and alert.open_key is None and alert.acked_by_id is None
    assert alert.resolved_by_id is None  # the engine's resolution stands
    assert [k for k, _ in events_of(app, alert.id)] == ["opened"]
