"""Flap suppression, maintenance windows, dependencies, escalation, recovery notices, dedupe, acknowledgement."""
from __future__ import annotations

from datetime import timedelta

import pytest

from isp.extensions import db
from isp.models import Alert, AlertState, AuditEntry, MaintenanceWindow, NotificationState, Router, User
from isp.services import alert_engine, alerts
from isp.services.errors import ServiceError
from tests.alerts.conftest import T0, alerts_of, at, evaluate, events_of, notes_of, write_sample

A, S = AlertState, NotificationState


@pytest.fixture
def webhook(channel, receiver):
    """The webhook channel on, pointing at the loopback receiver."""
    channel("webhook", url=receiver.url("/alerts"), secret="whsec-alerts")
    return receiver


def _cpu(app, router_id, seconds, cpu):
    write_sample(app, router_id, at(seconds), cpu=cpu)
    return evaluate(app, router_id, at(seconds))


def test_an_alert_reopening_a_fourth_time_in_30_minutes_is_held_as_flapping(app, make_rule, router, webhook):
    make_rule("CPU load", for_seconds=0, hysteresis=0, channels="webhook")
    for n in range(4):  # open at 0, 120, 240, 360 s; resolve 60 s after each
        _cpu(app, router.id, n * 120, 95)
        _cpu(app, router.id, n * 120 + 60, 10)
    _cpu(app, router.id, 480, 95)  # fifth opening: four before it within 30 min
    found = alerts_of(app)
    assert [a.suppressed for a in found] == ["", "", "", "flapping", "flapping"]
    assert ("suppressed", "flapping") in events_of(app, found[-1].id)
    opened = [(n.alert_id, n.event) for n in notes_of(app) if n.event == "alert_opened"]
    assert opened == [(a.id, "alert_opened") for a in found[:3]]  # held: nothing for the flapping ones
    resolved = [n.alert_id for n in notes_of(app) if n.event == "alert_resolved"]
    assert resolved == [a.id for a in found[:3]]  # no recovery notice for an opening never sent
    with app.app_context():  # still open, and the earlier openings age out of the window: stable
        assert alerts.evaluate_global(at(480 + 1700)) >= 1
        db.session.commit()
    last = alerts_of(app)[-1]
    assert last.state == A.open and last.suppressed == ""
    assert [n.event for n in notes_of(app, last.id)] == ["alert_opened"]


def test_a_maintenance_window_silences_a_site_until_it_ends(app, make_rule, make_router, webhook):
    hill = make_router(site="Hill")
    make_rule("CPU load", for_seconds=0, channels="webhook")
    with app.app_context():
        db.session.add(MaintenanceWindow(site="Hill", starts_at=at(-60), ends_at=at(600), reason="tower work"))
        db.session.commit()
    _cpu(app, hill.id, 0, 95)
    [alert] = alerts_of(app)
    assert alert.state == A.open and alert.suppressed == "maintenance"
    assert notes_of(app) == []
    evaluate(app, None, at(300))
    assert alerts_of(app)[0].suppressed == "maintenance" and notes_of(app) == []
    evaluate(app, None, at(601))  # the window is over and the CPU is still high: now it is news
    assert alerts_of(app)[0].suppressed == ""
    assert [n.event for n in notes_of(app)] == ["alert_opened"]
    assert [k for k, _ in events_of(app, alert.id)] == ["opened", "suppressed", "unsuppressed"]


def test_an_alert_resolved_inside_its_window_sends_nothing(app, make_rule, router, webhook):
    make_rule("CPU load", for_seconds=0, channels="webhook")
    with app.app_context():
        db.session.add(MaintenanceWindow(router_id=router.id, starts_at=at(-60), ends_at=at(600)))
        db.session.commit()
    _cpu(app, router.id, 0, 95)
    _cpu(app, router.id, 60, 10)
    assert alerts_of(app)[0].state == A.resolved and notes_of(app) == []


def test_a_router_behind_an_offline_parent_is_suppressed_as_a_dependency(app, make_rule, make_router, webhook):
    core, edge, other = make_router(name="core"), make_router(name="edge"), make_router(name="other")
    make_rule("Router offline", channels="webhook")
    with app.app_context():
        db.session.get(Router, edge.id).parent_id = core.id
        for r in (core, edge, other):
            db.session.get(Router, r.id).last_seen_at = at(-120)
        db.session.commit()
    evaluate(app, None, at(0))
    by_router = {a.router_id: a for a in alerts_of(app)}
    assert by_router[core.id].suppressed == "" and by_router[other.id].suppressed == ""
    assert by_router[edge.id].suppressed == "dependency"
    assert sorted(n.alert_id for n in notes_of(app)) == sorted([by_router[core.id].id, by_router[other.id].id])
    with app.app_context():  # the parent comes back, the child is still down: its alert is now sent
        db.session.get(Router, core.id).last_seen_at = at(5)
        db.session.commit()
    evaluate(app, None, at(10))
    assert by_router[core.id].id in [a.id for a in alerts_of(app, state=A.resolved)]
    with app.app_context():  # held for alert_suppress.dependency_grace() after the parent's recovery; polled since
        db.session.get(Router, core.id).last_seen_at = at(38)
        db.session.commit()
    evaluate(app, None, at(40))
    child = alerts_of(app, router_id=edge.id)[0]
    assert child.state == A.open and child.suppressed == ""
    assert [n.event for n in notes_of(app, child.id)] == ["alert_opened"]


def test_escalation_after_n_minutes_unacknowledged_goes_to_the_other_channel_once(app, make_rule, router, channel,
                                                                                   webhook, smtp_server):
    channel("email", host="127.0.0.1", port=str(smtp_server.port), security="none", sender="noc@isp.example")
    make_rule("CPU load", for_seconds=0, channels="webhook", escalate_after_minutes=5, escalate_channels="email",
              recipients={"email": "oncall@isp.example"})
    _cpu(app, router.id, 0, 95)
    evaluate(app, None, at(240))
    assert alerts_of(app)[0].escalated_at is None
    evaluate(app, None, at(300))
    evaluate(app, None, at(400))
    [alert] = alerts_of(app)
    assert alert.escalated_at == at(300)
    assert [(n.event, n.channel, n.recipient) for n in notes_of(app)] == [
        ("alert_opened", "webhook", webhook.url("/alerts")), ("alert_escalated", "email", "oncall@isp.example")]
    assert [k for k, _ in events_of(app, alert.id)] == ["opened", "escalated"]


def test_an_acknowledged_alert_does_not_escalate(app, make_rule, router, make_user):
    make_rule("CPU load", for_seconds=0, escalate_after_minutes=5, escalate_channels="email")
    operator = make_user("operator")
    _cpu(app, router.id, 0, 95)
    with app.app_context():
        alert = alerts.acknowledge(db.session.get(User, operator.id), alerts_of(app)[0].id, "on it")
        db.session.commit()
        assert alert.state == A.acknowledged and alert.acked_by_id == operator.id and alert.ack_note == "on it"
    evaluate(app, None, at(900))
    assert alerts_of(app)[0].escalated_at is None


def test_recovery_notice_only_when_the_rule_asks(app, make_rule, router, webhook):
    make_rule("CPU load", for_seconds=0, channels="webhook")
    make_rule("Memory used", for_seconds=0, channels="webhook", notify_recovery=False)
    write_sample(app, router.id, at(0), cpu=95, memory=99)
    evaluate(app, router.id, at(0))
    write_sample(app, router.id, at(10), cpu=5, memory=5)
    evaluate(app, router.id, at(10))
    cpu, memory = alerts_of(app)
    assert [n.event for n in notes_of(app, cpu.id)] == ["alert_opened", "alert_resolved"]
    assert [n.event for n in notes_of(app, memory.id)] == ["alert_opened"]


def test_one_live_alert_per_rule_and_target_and_one_message_per_state(app, make_rule, router, webhook):
    rule_id = make_rule("CPU load", for_seconds=0, hysteresis=0, channels="webhook")
    for n in range(3):
        _cpu(app, router.id, n * 10, 80)
    _cpu(app, router.id, 30, 95)  # up to critical: one more message
    _cpu(app, router.id, 40, 85)  # down to warning: no message
    _cpu(app, router.id, 50, 96)  # critical again: already said
    [alert] = alerts_of(app)
    assert [n.event for n in notes_of(app)] == ["alert_opened", "alert_critical"]
    assert [n.dedupe_key for n in notes_of(app)] == [f"alert:{alert.id}:opened:webhook", f"alert:{alert.id}:critical:webhook"]
    with app.app_context():  # a racing evaluator inserting the same key is refused by the unique open_key
        rule = db.session.get(alert_engine.AlertRule, rule_id)
        assert alert_engine._create(rule, router.id, "", 99.0, alert.severity, "", at(60)) is None
        assert db.session.scalar(db.select(db.func.count()).select_from(Alert)) == 1


def test_acknowledge_and_resolve_are_checked_and_audited(app, make_rule, router, make_user):
    make_rule("CPU load", for_seconds=0)
    reseller, operator = make_user("reseller"), make_user("operator")
    _cpu(app, router.id, 0, 95)
    alert_id = alerts_of(app)[0].id
    with app.app_context():
        with pytest.raises(ServiceError, match="Only staff"):
            alerts.acknowledge(db.session.get(User, reseller.id), alert_id, "mine now")
        with pytest.raises(ServiceError, match="at most 1000"):
            alerts.acknowledge(db.session.get(User, operator.id), alert_id, "x" * 1001)
        alerts.acknowledge(db.session.get(User, operator.id), alert_id, "looking")
        with pytest.raises(ServiceError, match="acknowledged alert cannot be acknowledged"):
            alerts.acknowledge(db.session.get(User, operator.id), alert_id, "")
        with pytest.raises(ServiceError, match="Only staff"):
            alerts.resolve(db.session.get(User, reseller.id), alert_id, "")
        alerts.resolve(db.session.get(User, operator.id), alert_id, "rebooted")
        with pytest.raises(ServiceError, match="resolved alert cannot be resolved"):
            alerts.resolve(db.session.get(User, operator.id), alert_id, "")
        db.session.commit()
        actions = [(e.action, e.actor_id, e.detail) for e in db.session.scalars(db.select(AuditEntry).order_by(AuditEntry.id))
                   if e.action.startswith("alerts.")]
    assert actions == [("alerts.acknowledge", operator.id, "looking"), ("alerts.resolve", operator.id, "rebooted")]
    [alert] = alerts_of(app)
    assert alert.state == A.resolved and alert.resolved_by_id == operator.id and alert.open_key is None
    assert events_of(app, alert_id)[1:] == [("acknowledged", "looking"), ("resolved", "rebooted")]
    _cpu(app, router.id, 10, 95)  # still hot: a new alert opens
    assert [a.state for a in alerts_of(app)] == [A.resolved, A.open]


def test_clock_fixture_sanity():
    assert at(60) - T0 == timedelta(minutes=1)


def test_alerts_of_a_disabled_rule_or_router_are_retired_without_a_recovery_notice(app, make_rule, make_router, webhook):
    from isp.models import AlertRule, AlertScope

    first, second = make_router(), make_router()
    cpu = make_rule("CPU load", for_seconds=0, channels="webhook")
    for r in (first, second):
        _cpu(app, r.id, 0, 95)
    with app.app_context():
        db.session.get(Router, second.id).enabled = False
        db.session.commit()
    evaluate(app, None, at(10))
    assert [a.state for a in alerts_of(app)] == [A.open, A.resolved]
    assert events_of(app, alerts_of(app)[1].id)[-1] == ("resolved", "its rule or router was disabled")
    with app.app_context():
        rule = db.session.get(AlertRule, cpu)
        rule.scope, rule.site = AlertScope.site, "elsewhere"
        db.session.commit()
    _cpu(app, first.id, 20, 95)  # the poll's evaluation: the rule no longer covers this router
    assert [a.state for a in alerts_of(app)] == [A.resolved, A.resolved]
    assert [n.event for n in notes_of(app)] == ["alert_opened", "alert_opened"]


def test_alert_templates_are_listed_and_previewed_with_alert_variables(app, client, auth):
    auth.login_as("admin")
    page = client.get("/notifications/settings").get_data(as_text=True)
    assert "Alert raised" in page and "event=alert_escalated&amp;channel=telegram" in page
    assert "event=reminder&amp;channel=telegram" not in page  # Telegram carries staff alerts only
    page = client.get("/notifications/templates?event=alert_opened&channel=email").get_data(as_text=True)
    assert "alert.severity" in page and "CPU load" in page and "&lt;b&gt;core-1&lt;/b&gt;" in page
    assert client.get("/notifications/templates?event=reminder&channel=telegram").status_code == 404


def test_escalation_counts_from_the_end_of_a_maintenance_window(app, make_rule, router, webhook):
    make_rule("CPU load", for_seconds=0, channels="webhook", escalate_after_minutes=5, escalate_channels="webhook")
    with app.app_context():
        db.session.add(MaintenanceWindow(router_id=router.id, starts_at=at(-60), ends_at=at(600)))
        db.session.commit()
    _cpu(app, router.id, 0, 95)
    evaluate(app, None, at(610))  # released: the opening goes out now, not an escalation as well
    evaluate(app, None, at(700))
    assert [n.event for n in notes_of(app)] == ["alert_opened"]
    evaluate(app, None, at(610 + 300))
    assert [n.event for n in notes_of(app)] == ["alert_opened", "alert_escalated"]
