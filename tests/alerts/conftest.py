"""Fixtures of the alert tests: rules, routers, samples written as the poll would, and the loopback receivers."""
from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from isp.extensions import db as _db
from tests.monitoring.conftest import box, quiet_sim  # noqa: F401 (fixtures)
from tests.notifications.conftest import Receiver, admin, channel, receiver, smtp_server  # noqa: F401 (fixtures)

T0 = datetime(2030, 3, 4, 12, 0, 0, tzinfo=UTC)  # a fixed "now" the tests step through with explicit now=


def at(seconds: float) -> datetime:
    """T0 plus some seconds."""
    return T0 + timedelta(seconds=seconds)


def default_rules() -> tuple:
    """DEFAULT_RULES from migration 0014 (the tests empty the tables the migration seeded)."""
    path = Path(__file__).resolve().parents[2] / "migrations" / "versions" / "0014_monitoring.py"
    spec = importlib.util.spec_from_file_location("migration_0014", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.DEFAULT_RULES


@pytest.fixture(autouse=True)
def _no_seeded_rules(app):
    """Start without the migration's default rules (only the first test of a run would see them)."""
    from isp.models import AlertRule

    with app.app_context():
        _db.session.execute(_db.delete(AlertRule))
        _db.session.commit()


@pytest.fixture
def make_rule(app):
    """make_rule(name or default-rule name, **fields) -> rule id. A name from DEFAULT_RULES starts from its values."""
    from isp.models import AlertKind, AlertRule, AlertScope

    defaults = {row[0]: row for row in default_rules()}

    def factory(name: str, **fields):
        data = {}
        if name in defaults:
            _, kind, metric, below, warning, critical, hysteresis, for_seconds, params = defaults[name]
            data = {"kind": AlertKind(kind), "metric": metric, "below": below, "warning": warning, "critical": critical,
                    "hysteresis": hysteresis, "for_seconds": for_seconds, "params_json": params}
        data.update(fields)
        if isinstance(data.get("kind"), str):
            data["kind"] = AlertKind(data["kind"])
        if isinstance(data.get("scope"), str):
            data["scope"] = AlertScope(data["scope"])
        if "params" in data:
            import json

            data["params_json"] = json.dumps(data.pop("params"))
        if "recipients" in data:
            import json

            data["recipients_json"] = json.dumps(data.pop("recipients"))
        with app.app_context():
            rule = AlertRule(name=name, **data)
            _db.session.add(rule)
            _db.session.commit()
            return rule.id

    return factory


@pytest.fixture
def router(make_router):
    """One router (no simulator behind it; the tests write what the poll would)."""
    return make_router()


def write_sample(app, router_id: int, now: datetime, **gauges) -> None:
    """A RouterSample at `now`, and the router marked seen then (what a poll does)."""
    from isp.models import Router, RouterSample

    with app.app_context():
        _db.session.add(RouterSample(router_id=router_id, ts=int(now.timestamp()), **gauges))
        _db.session.get(Router, router_id).last_seen_at = now
        _db.session.commit()


def evaluate(app, router_id: int | None = None, now: datetime | None = None) -> int:
    """One evaluation as the poll (router id) or the EVALUATE_ALERTS job (None) runs it, committed."""
    from isp.services import alerts

    with app.app_context():
        changed = alerts.evaluate_router(router_id, now) if router_id else alerts.evaluate_global(now)
        _db.session.commit()
        return changed


def alerts_of(app, **where) -> list:
    """Every alert (detached), oldest first, optionally filtered by column values."""
    from isp.models import Alert

    with app.app_context():
        query = _db.select(Alert).order_by(Alert.id)
        for key, value in where.items():
            query = query.where(getattr(Alert, key) == value)
        found = list(_db.session.scalars(query))
        _db.session.expunge_all()
        return found


def events_of(app, alert_id: int) -> list[tuple[str, str]]:
    """(kind, note) of an alert's history, in order."""
    from isp.models import AlertEvent

    with app.app_context():
        return [(e.kind, e.note) for e in _db.session.scalars(
            _db.select(AlertEvent).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.id))]


def notes_of(app, alert_id: int | None = None) -> list:
    """Alert notification rows (detached), oldest first."""
    from isp.models import Notification

    with app.app_context():
        query = _db.select(Notification).where(Notification.alert_id.is_not(None)).order_by(Notification.id)
        if alert_id is not None:
            query = query.where(Notification.alert_id == alert_id)
        found = list(_db.session.scalars(query))
        _db.session.expunge_all()
        return found
