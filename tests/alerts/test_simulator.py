"""End to end through the real poll: the simulator holds its CPU high, the alert opens after its delay and the
webhook receives it; the CPU comes down and the recovery notice follows. Frozen simulator clock, explicit times."""
from __future__ import annotations

import json

from isp.models import AlertSeverity, AlertState
from tests.alerts.conftest import alerts_of, events_of
from tests.conftest import run_worker
from tests.monitoring.conftest import T0, poll


def test_cpu_held_high_on_the_simulator_raises_an_alert_that_reaches_the_webhook(app, box, make_rule, channel,
                                                                                 receiver):
    channel("webhook", url=receiver.url("/noc"), secret="whsec-e2e")
    make_rule("CPU load", channels="webhook", for_seconds=60)  # warning 70, critical 90
    box.sim.hold(cpu_load=95)
    assert poll(app, box.id, T0) == "ok"
    [pending] = alerts_of(app)
    assert pending.state == AlertState.pending and pending.value == 95
    box.fleet.advance(30)
    poll(app, box.id, T0 + 30)
    assert alerts_of(app)[0].state == AlertState.pending
    box.fleet.advance(30)
    poll(app, box.id, T0 + 60)
    [alert] = alerts_of(app)
    assert alert.state == AlertState.open and alert.severity == AlertSeverity.critical
    run_worker(app)  # the poll's commit enqueued the sending job
    [request] = receiver.requests
    document = json.loads(request.body)
    assert document["alert"]["id"] == alert.id and document["alert"]["value"] == 95
    assert document["subject"] == "[CRITICAL] CPU load on router-1"  # the router's name in the panel
    box.sim.hold(cpu_load=12)
    box.fleet.advance(10)
    poll(app, box.id, T0 + 70)
    assert alerts_of(app)[0].state == AlertState.resolved
    run_worker(app)
    assert [json.loads(r.body)["event"] for r in receiver.requests] == ["alert_opened", "alert_resolved"]
    assert [k for k, _ in events_of(app, alert.id)] == ["opened", "resolved"]
