"""A missing reading holds a metric alert as it is; a pending alert's delay counts only a condition seen without a gap."""
from __future__ import annotations

from isp.models import AlertState
from tests.alerts.conftest import alerts_of, at, evaluate, events_of, write_sample

A = AlertState


def test_a_missing_reading_neither_resolves_nor_reopens_the_alert(app, make_rule, router):
    make_rule("Temperature", for_seconds=0)  # warning 70, critical 80
    write_sample(app, router.id, at(0), cpu=5, temperature=85)
    evaluate(app, router.id, at(0))
    [opened] = alerts_of(app, state=A.open)
    write_sample(app, router.id, at(10), cpu=5, temperature=None)  # /system/health trapped this once
    evaluate(app, router.id, at(10))
    write_sample(app, router.id, at(20), cpu=5, temperature=86)
    evaluate(app, router.id, at(20))
    [alert] = alerts_of(app)
    assert alert.id == opened.id and alert.state == A.open and alert.value == 86
    assert [k for k, _ in events_of(app, alert.id)] == ["opened"]  # no "resolved", no second opening
    write_sample(app, router.id, at(30), cpu=5, temperature=40)
    evaluate(app, router.id, at(30))
    assert alerts_of(app)[0].state == A.resolved  # a real reading below the threshold still clears it


def test_a_missing_reading_keeps_a_pending_alert_pending(app, make_rule, router):
    make_rule("CPU load", for_seconds=60)
    write_sample(app, router.id, at(0), cpu=95)
    evaluate(app, router.id, at(0))
    write_sample(app, router.id, at(10), cpu=None)
    evaluate(app, router.id, at(10))
    [pending] = alerts_of(app)
    assert pending.state == A.pending and pending.started_at == at(0)


def test_a_pending_alert_seen_again_after_a_gap_starts_its_delay_again(app, make_rule, router):
    make_rule("CPU load", for_seconds=60)  # the poll every 10 s
    write_sample(app, router.id, at(0), cpu=95)
    evaluate(app, router.id, at(0))
    # no poll for 100 s (the router was unreachable); then it is busy again: not "busy for 100 s"
    write_sample(app, router.id, at(100), cpu=95)
    evaluate(app, router.id, at(100))
    [alert] = alerts_of(app)
    assert alert.state == A.pending and alert.started_at == at(100)
    for seconds in range(110, 160, 10):
        write_sample(app, router.id, at(seconds), cpu=95)
        evaluate(app, router.id, at(seconds))
    assert alerts_of(app)[0].state == A.pending
    write_sample(app, router.id, at(160), cpu=95)
    evaluate(app, router.id, at(160))
    [alert] = alerts_of(app)
    assert alert.state == A.open and alert.opened_at == at(160)
