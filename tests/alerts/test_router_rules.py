"""Router rules fire and resolve from what the poll wrote: thresholds, hysteresis, delay, interfaces, flaps, spikes."""
from __future__ import annotations

from datetime import timedelta

from isp.extensions import db
from isp.models import AlertSeverity, AlertState, InterfaceRollup, Router, RouterInterface
from tests.alerts.conftest import T0, alerts_of, at, evaluate, events_of, write_sample

A, SEV = AlertState, AlertSeverity


def test_cpu_rule_grades_with_hysteresis_and_records_severity_changes(app, make_rule, router):
    make_rule("CPU load", for_seconds=0)  # warning 70, critical 90, hysteresis 5
    steps = [(50, None), (75, SEV.warning), (92, SEV.critical), (87, SEV.critical),  # 87 > 90 - 5: holds
             (84, SEV.warning), (67, SEV.warning),                                  # 67 > 70 - 5: holds
             (64, None)]
    for n, (cpu, expected) in enumerate(steps):
        write_sample(app, router.id, at(10 * n), cpu=cpu)
        evaluate(app, router.id, at(10 * n))
        live = alerts_of(app, state=A.open)
        assert [a.severity for a in live] == ([expected] if expected else []), f"cpu {cpu}"
    [alert] = alerts_of(app)
    assert alert.state == A.resolved and alert.open_key is None and alert.resolved_at == at(60)
    # a resolved alert keeps the last bad reading it was raised or graded on (64 cleared it, it is not recorded)
    assert alert.value == 67 and alert.message.startswith("cpu 67% on router-1")
    assert [k for k, _ in events_of(app, alert.id)] == ["opened", "severity", "severity", "resolved"]
    assert events_of(app, alert.id)[1][1] == "warning → critical"


def test_delay_keeps_an_alert_pending_until_the_condition_held_long_enough(app, make_rule, router):
    make_rule("CPU load", for_seconds=60)
    write_sample(app, router.id, at(0), cpu=95)
    evaluate(app, router.id, at(0))
    [pending] = alerts_of(app)
    assert pending.state == A.pending and pending.opened_at is None and events_of(app, pending.id) == []
    write_sample(app, router.id, at(30), cpu=96)
    evaluate(app, router.id, at(30))
    assert alerts_of(app)[0].state == A.pending
    write_sample(app, router.id, at(60), cpu=97)
    evaluate(app, router.id, at(60))
    [opened] = alerts_of(app)
    assert opened.id == pending.id and opened.state == A.open and opened.opened_at == at(60)
    assert opened.started_at == at(0) and opened.severity == SEV.critical and opened.value == 97


def test_a_condition_that_clears_before_its_delay_leaves_no_trace(app, make_rule, router):
    make_rule("CPU load")
    write_sample(app, router.id, at(0), cpu=95)
    evaluate(app, router.id, at(0))
    write_sample(app, router.id, at(20), cpu=20)
    evaluate(app, router.id, at(20))
    assert alerts_of(app) == []


def test_below_rule_fires_when_the_value_drops(app, make_rule, router):
    make_rule("Low voltage", kind="metric", metric="voltage", below=True, warning=11.5, critical=10.5, hysteresis=0.3)
    write_sample(app, router.id, at(0), voltage=11.2)
    evaluate(app, router.id, at(0))
    [alert] = alerts_of(app, state=A.open)
    assert alert.severity == SEV.warning and "voltage 11.2 V" in alert.message
    write_sample(app, router.id, at(10), voltage=11.7)  # past 11.5 but not 11.5 + 0.3
    evaluate(app, router.id, at(10))
    assert alerts_of(app)[0].state == A.open
    write_sample(app, router.id, at(20), voltage=12.0)
    evaluate(app, router.id, at(20))
    assert alerts_of(app)[0].state == A.resolved


def test_rule_scope_site_and_router(app, make_rule, make_router):
    hill = make_router(site="Hill")
    vale = make_router(site="Vale")
    make_rule("Hill CPU", kind="metric", metric="cpu", warning=50, scope="site", site="Hill")
    make_rule("Vale router CPU", kind="metric", metric="cpu", warning=60, scope="router", router_id=vale.id)
    for r in (hill, vale):
        write_sample(app, r.id, at(0), cpu=70)
        evaluate(app, r.id, at(0))
    fired = {(a.router_id, a.rule_id) for a in alerts_of(app)}
    assert len(fired) == 2 and {r for r, _ in fired} == {hill.id, vale.id}


def _iface(app, router_id, name, **fields):
    with app.app_context():
        iface = RouterInterface(router_id=router_id, name=name, **fields)
        db.session.add(iface)
        db.session.commit()
        return iface.id


def _update_iface(app, iface_id, **fields):
    with app.app_context():
        iface = db.session.get(RouterInterface, iface_id)
        for key, value in fields.items():
            setattr(iface, key, value)
        db.session.commit()


def _poll_ifaces(app, router_id, now, **links):
    """What one poll writes for the router's interfaces, through the real ingest: links = {name: running or
    "disabled"}; then the poll's alert evaluation."""
    from isp.services import monitor_ingest
    from isp.services.monitor_poll import Reading

    reading = Reading(resource={"uptime": "1h"}, interfaces=[
        {"name": name, "type": "ether", "comment": "", "running": state is True, "disabled": state == "disabled",
         "rx": 0, "tx": 0} for name, state in links.items()])
    with app.app_context():
        monitor_ingest.ingest(router_id, reading, now.timestamp(), None)
        db.session.get(Router, router_id).last_seen_at = now
        db.session.commit()
    evaluate(app, router_id, now)


def test_interface_down_fires_for_a_link_that_had_been_running(app, make_rule, router):
    make_rule("Interface down", for_seconds=0)
    # The router's first poll: ether5 is an enabled port with nothing plugged in, ether9 is disabled.
    _poll_ifaces(app, router.id, at(0), ether2=True, ether5=False, ether9="disabled")
    assert alerts_of(app) == []
    _poll_ifaces(app, router.id, at(10), ether2=True, ether5=False, ether9="disabled")
    assert alerts_of(app) == []  # an unplugged port is never "down", however many polls see it
    _poll_ifaces(app, router.id, at(20), ether2=False, ether5=False, ether9="disabled")
    [alert] = alerts_of(app)
    assert alert.state == A.open and alert.target == "iface:ether2" and alert.severity == SEV.warning
    assert alert.message == "ether2 on router-1 is down"
    _poll_ifaces(app, router.id, at(30), ether2=True, ether5=False, ether9="disabled")
    assert alerts_of(app)[0].state == A.resolved
    # a port first seen unplugged that comes up and then goes down is a link down like any other
    _poll_ifaces(app, router.id, at(40), ether2=True, ether5=True, ether9="disabled")
    _poll_ifaces(app, router.id, at(50), ether2=True, ether5=False, ether9="disabled")
    assert [(a.target, a.state) for a in alerts_of(app)] == [("iface:ether2", A.resolved), ("iface:ether5", A.open)]


def test_link_flap_counts_downs_within_the_window(app, make_rule, router):
    from isp.extensions import redis_store
    from isp.services import metrics_store

    make_rule("Link flapping")  # warning 3 within 600 s
    ether1 = _iface(app, router.id, "ether1", running=True, link_downs=4, last_change_at=at(-30))
    with app.app_context():  # what the poll records on each running -> not running
        pipe = redis_store.client.pipeline()
        for seconds in (-300, -200, -100, -30):
            metrics_store.add_link_downs(pipe, [ether1], at(seconds).timestamp())
        pipe.execute()
    evaluate(app, router.id, at(0))
    [alert] = alerts_of(app)
    assert alert.state == A.open and alert.target == "iface:ether1" and alert.value == 4
    assert "went down 4 times in 10 min" in alert.message
    evaluate(app, router.id, at(400))  # three left in the window: still at the threshold
    assert alerts_of(app)[0].state == A.open and alerts_of(app)[0].value == 3
    evaluate(app, router.id, at(580))  # the window has moved past the last down
    assert alerts_of(app)[0].state == A.resolved


def test_traffic_spike_against_the_same_hour_of_the_last_week(app, make_rule, router):
    make_rule("Traffic spike", for_seconds=0)  # warning 3x, critical 6x, min 1 Mbps
    wan = _iface(app, router.id, "wan", running=True, rx_bps=2_000_000, tx_bps=100_000)
    hour = int(T0.timestamp()) // 3600 * 3600
    with app.app_context():
        for day in (1, 2):  # two days of baseline: not enough yet (3 needed)
            db.session.add(InterfaceRollup(interface_id=wan, step=3600, ts=hour - day * 86400, samples=360,
                                           rx_avg=1_000_000, tx_avg=500_000))
        db.session.commit()
    evaluate(app, router.id, at(0))
    assert alerts_of(app) == []
    with app.app_context():
        for day in (3, 4, 5):
            db.session.add(InterfaceRollup(interface_id=wan, step=3600, ts=hour - day * 86400, samples=360,
                                           rx_avg=1_000_000, tx_avg=500_000))
        db.session.add(InterfaceRollup(interface_id=wan, step=3600, ts=hour - 3600, samples=360,  # another hour
                                       rx_avg=90_000_000, tx_avg=0))
        db.session.commit()
    _update_iface(app, wan, rx_bps=4_000_000)
    evaluate(app, router.id, at(10))
    [alert] = alerts_of(app)
    assert alert.state == A.open and alert.severity == SEV.warning and alert.value == 4.0
    _update_iface(app, wan, rx_bps=7_000_000)
    evaluate(app, router.id, at(20))
    assert alerts_of(app)[0].severity == SEV.critical
    _update_iface(app, wan, rx_bps=900_000, tx_bps=900_000)  # back under the floor
    evaluate(app, router.id, at(30))
    assert alerts_of(app)[0].state == A.resolved


def test_offline_fires_from_the_global_pass_and_the_poll_resolves_it(app, make_rule, router):
    make_rule("Router offline")  # 45 s
    with app.app_context():
        db.session.get(Router, router.id).last_seen_at = at(-100)
        db.session.commit()
    evaluate(app, None, at(-80))
    assert alerts_of(app) == []
    evaluate(app, None, at(0))
    [alert] = alerts_of(app)
    assert alert.state == A.open and alert.severity == SEV.critical and "not seen for 100 s" in alert.message
    evaluate(app, None, at(10))
    assert len(alerts_of(app)) == 1  # one live alert per rule and target
    write_sample(app, router.id, at(20), cpu=5)
    evaluate(app, router.id, at(20))
    assert alerts_of(app)[0].state == A.resolved


def test_an_open_circuit_is_offline_too(app, make_rule, router):
    make_rule("Router offline")
    write_sample(app, router.id, at(0), cpu=5)
    app.config["BREAKER_COOLDOWN"] = 600  # stays open through the test, however slow the machine
    with app.app_context():
        from isp.routeros.status import breaker

        for _ in range(app.config["BREAKER_THRESHOLD"]):
            breaker().failure(router.id, "connection refused")
    evaluate(app, None, T0 + timedelta(seconds=1))
    [alert] = alerts_of(app)
    assert alert.state == A.open and "circuit is open" in alert.message


def test_a_failing_evaluation_keeps_the_polls_writes(app, make_rule, router, monkeypatch):
    from isp.models import RouterSample
    from isp.services import alert_checks, alerts

    make_rule("CPU load", for_seconds=0)

    def broken(*args):
        raise RuntimeError("bug in a check")

    monkeypatch.setattr(alert_checks, "metric", broken)
    with app.app_context():
        db.session.add(RouterSample(router_id=router.id, ts=int(T0.timestamp()), cpu=99))
        assert alerts.evaluate_router(router.id, T0) == 0
        db.session.commit()
        assert db.session.scalar(db.select(db.func.count()).select_from(RouterSample)) == 1
    assert alerts_of(app) == []


def test_a_batch_evaluation_judges_each_router_on_its_own_samples(app, make_rule, make_router):
    """The poll evaluates a whole batch at once: each router's alert follows its own sample, the offline alert of a
    router the poll reached resolves, and that of one it could not reach (last_error) stays open."""
    from isp.services import alerts

    make_rule("CPU load", for_seconds=0)  # warning 70, critical 90
    make_rule("Router offline")  # 45 s
    hot, cool, unreachable = (make_router().id for _ in range(3))
    with app.app_context():
        for router_id, seen in ((hot, at(-5)), (cool, at(-100)), (unreachable, at(-100))):
            db.session.get(Router, router_id).last_seen_at = seen
        db.session.commit()
    evaluate(app, None, at(0))
    assert {a.router_id for a in alerts_of(app, state=A.open)} == {cool, unreachable}  # both offline
    write_sample(app, hot, at(10), cpu=95)
    write_sample(app, cool, at(10), cpu=20)
    with app.app_context():
        db.session.get(Router, unreachable).last_error = "connection refused"
        db.session.commit()
        alerts.evaluate_routers([hot, cool, unreachable], at(10))
        db.session.commit()
    live = {(a.router_id, a.severity) for a in alerts_of(app) if a.open_key is not None}
    assert live == {(hot, SEV.critical), (unreachable, SEV.critical)}
    [resolved] = alerts_of(app, state=A.resolved)
    assert resolved.router_id == cool
