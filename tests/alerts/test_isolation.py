"""One failing rule, suppression review or escalation does not stop the fleet's alerting."""
from __future__ import annotations

from isp.extensions import db
from isp.models import AlertKind, AlertState, Router
from tests.alerts.conftest import alerts_of, at, evaluate

A = AlertState


def _rule_id(app, name):
    from isp.models import AlertRule

    with app.app_context():
        return db.session.scalar(db.select(AlertRule.id).where(AlertRule.name == name))


def _broken(*args, **kwargs):
    raise RuntimeError("bug in a check")


def test_a_failing_global_rule_does_not_stop_the_offline_alerts(app, make_rule, router, monkeypatch):
    from isp.services import alert_checks, alerts

    make_rule("Dead letters", warning=1)
    make_rule("Router offline")  # 45 s
    make_rule("Outbox backlog")
    monkeypatch.setitem(alert_checks.GLOBAL, AlertKind.dead_letters, _broken)
    logged = []
    monkeypatch.setattr(alerts.log, "exception", lambda msg, *args: logged.append(msg % args))
    with app.app_context():
        db.session.get(Router, router.id).last_seen_at = at(-100)
        db.session.commit()
    evaluate(app, None, at(0))
    [alert] = alerts_of(app)
    assert alert.state == A.open and alert.router_id == router.id and "offline" in alert.message
    assert logged == [f"alert rule {_rule_id(app, 'Dead letters')} (dead_letters) failed"]  # and it is logged


def test_a_failing_offline_check_or_review_leaves_the_other_rules_working(app, make_rule, router, monkeypatch):
    from isp.services import alert_checks, alert_suppress

    make_rule("Router offline")
    make_rule("Dead letters", warning=0)  # 0 dead letters is at the threshold: opens
    monkeypatch.setattr(alert_checks, "offline", _broken)
    monkeypatch.setattr(alert_suppress, "review", _broken)
    monkeypatch.setattr(alert_suppress, "escalate", _broken)
    evaluate(app, None, at(0))
    [alert] = alerts_of(app)
    assert alert.state == A.open and alert.router_id is None and "dead letters" in alert.message
