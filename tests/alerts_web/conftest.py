"""Alert centre fixtures: rules and alerts written straight to the tables (the engine is tested on its own)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from isp.extensions import db as _db
from isp.models import Alert, AlertKind, AlertRule, AlertSeverity, AlertState

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_seeded_rules(app):
    """Start without the migration's default rules (only the first test of a session would see them)."""
    with app.app_context():
        _db.session.execute(_db.delete(AlertRule))
        _db.session.commit()


@pytest.fixture
def make_rule(app):
    """Factory: make_rule(name, kind='metric', **fields) -> id."""
    def factory(name: str = "CPU load", kind: str = "metric", **fields):
        with app.app_context():
            defaults = {"metric": "cpu", "warning": 70.0, "critical": 90.0} if kind == "metric" else {}
            rule = AlertRule(name=name, kind=AlertKind(kind), **{**defaults, **fields})
            _db.session.add(rule)
            _db.session.commit()
            return rule.id
    return factory


@pytest.fixture
def make_alert(app):
    """Factory: make_alert(rule_id, router_id=None, state='open', severity='warning', opened_at=T0, **fields) -> id."""
    counter = {"n": 0}

    def factory(rule_id: int, router_id: int | None = None, state: str = "open", severity: str = "warning",
                opened_at: datetime = T0, **fields):
        counter["n"] += 1
        with app.app_context():
            st = AlertState(state)
            alert = Alert(rule_id=rule_id, router_id=router_id, state=st, severity=AlertSeverity(severity),
                          started_at=opened_at - timedelta(minutes=1), opened_at=opened_at, last_seen_at=opened_at,
                          open_key=None if st is AlertState.resolved else f"{rule_id}:{router_id or 0}:{counter['n']}",
                          resolved_at=opened_at + timedelta(minutes=5) if st is AlertState.resolved else None,
                          **{"message": f"alert {counter['n']}", **fields})
            _db.session.add(alert)
            _db.session.commit()
            return alert.id
    return factory


@pytest.fixture
def routers_two(make_router):
    """Two routers on two sites (no simulator: nothing talks to them here)."""
    return SimpleNamespace(a=make_router(name="core-a", site="North"), b=make_router(name="edge-b", site="South"))
