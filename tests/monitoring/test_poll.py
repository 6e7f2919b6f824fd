"""The monitoring poll against the simulator: rows written, rates across counter wrap and reboot, link downs."""
from __future__ import annotations

from sqlalchemy import func, select

from isp.extensions import db as _db
from isp.models.monitoring import InterfaceSample, RouterInterface, RouterSample
from tests.monitoring.conftest import T0, iface_samples, interface, poll, set_counters


def test_a_poll_writes_a_router_sample_and_the_interfaces_but_not_the_subscribers_pppoe_interfaces(app, box):
    box.sim.login("ppp1", kind="ppp")
    box.sim.login("user1", kind="hotspot")
    assert poll(app, box.id, T0) == "ok"
    with app.app_context():
        names = set(_db.session.scalars(select(RouterInterface.name).where(RouterInterface.router_id == box.id)))
        sample = _db.session.get(RouterSample, (box.id, T0))
        assert _db.session.scalar(select(func.count()).select_from(InterfaceSample)) == 0  # no rate without a basis
    assert "ether1" in names and "bridge-hotspot" in names
    assert not any(n.startswith("<pppoe-") for n in names)
    assert sample.ppp_active == 1 and sample.hotspot_active == 1
    assert 0 <= sample.cpu <= 100 and 0 < sample.memory < 100 and sample.temperature is not None
    box.fleet.advance(10)
    assert poll(app, box.id, T0 + 10) == "ok"
    ether1 = interface(app, box.id, "ether1")
    assert set(iface_samples(app, ether1.id)) == {T0 + 10}
    with app.app_context():
        from isp.services import metrics_store

        assert metrics_store.latest(box.id)["ppp_active"] == 1
        listed = {i["name"]: i for i in metrics_store.interfaces(box.id)}
    assert listed["ether1"]["rx_bps"] == ether1.rx_bps > 0


def test_rates_across_a_32_bit_counter_wrap(app, box):
    set_counters(box.sim, "ether1", rx=2 ** 32 - 1000, tx=5000)
    poll(app, box.id, T0)
    box.fleet.advance(10)
    set_counters(box.sim, "ether1", rx=500, tx=7500)
    poll(app, box.id, T0 + 10)
    ether1 = interface(app, box.id, "ether1")
    assert iface_samples(app, ether1.id)[T0 + 10] == (1200, 2000)  # 1,500 and 2,500 bytes in 10 s
    assert (ether1.rx_bps, ether1.tx_bps) == (1200, 2000)


def test_rates_across_a_64_bit_counter_wrap(app, box):
    set_counters(box.sim, "ether2", rx=2 ** 64 - 4000, tx=2 ** 40)
    poll(app, box.id, T0)
    box.fleet.advance(20)
    set_counters(box.sim, "ether2", rx=1000, tx=2 ** 40 + 25_000)
    poll(app, box.id, T0 + 20)
    ether2 = interface(app, box.id, "ether2")
    assert iface_samples(app, ether2.id)[T0 + 20] == (2000, 10_000)


def test_a_reboot_gives_the_rate_since_boot_not_a_spike(app, box):
    from isp import dispatch
    from isp.services import reconcile

    set_counters(box.sim, "ether1", rx=9_000_000_000, tx=7_000_000_000)
    poll(app, box.id, T0)
    box.sim.reboot()
    box.fleet.advance(20)  # up again for 20 s; its counters restarted at zero
    set_counters(box.sim, "ether1", rx=5000, tx=10_000)
    # The reboot closed the pooled connection: that poll fails (and drops it), the next one reconnects.
    poll(app, box.id, T0 + 30)
    assert poll(app, box.id, T0 + 30) == "ok"
    ether1 = interface(app, box.id, "ether1")
    assert iface_samples(app, ether1.id)[T0 + 30] == (2000, 4000)  # 5,000 and 10,000 bytes over 20 s of uptime
    with app.app_context():
        assert dispatch.alive([reconcile.job_id(box.id)])  # and what we pushed is checked again


def test_losing_the_previous_counters_means_no_rate_for_one_poll_not_a_wrong_one(app, box):
    from isp.services.monitor_ingest import prev_key

    poll(app, box.id, T0)
    app.config["REDIS_CLIENT"].delete(prev_key(box.id))
    box.fleet.advance(10)
    poll(app, box.id, T0 + 10)
    assert iface_samples(app, interface(app, box.id, "ether1").id) == {}
    box.fleet.advance(10)
    poll(app, box.id, T0 + 20)
    assert set(iface_samples(app, interface(app, box.id, "ether1").id)) == {T0 + 20}


def test_a_link_going_down_is_counted_and_kept_for_the_alert_engine(app, box):
    from isp.services import metrics_store

    poll(app, box.id, T0)
    box.fleet.advance(10)
    set_counters(box.sim, "ether3", running=False)
    poll(app, box.id, T0 + 10)
    ether3 = interface(app, box.id, "ether3")
    assert ether3.running is False and ether3.link_downs == 1
    assert int(ether3.last_change_at.timestamp()) == T0 + 10
    box.fleet.advance(10)
    set_counters(box.sim, "ether3", running=False)
    poll(app, box.id, T0 + 20)  # still down: not a second link down
    assert interface(app, box.id, "ether3").link_downs == 1
    with app.app_context():
        assert metrics_store.link_downs_since([ether3.id], T0) == {ether3.id: 1}
        assert metrics_store.link_downs_since([ether3.id], T0 + 11) == {ether3.id: 0}


def test_an_interface_the_router_no_longer_lists_is_kept_but_marked_gone(app, box):
    with box.sim.state.lock:
        box.sim.state.menus["/interface"].add({"name": "vlan10", "type": "vlan"}, internal=True)
    poll(app, box.id, T0)
    assert interface(app, box.id, "vlan10").present is True
    with box.sim.state.lock:
        menu = box.sim.state.menus["/interface"]
        menu.delete(menu.by_name("vlan10"))
    box.fleet.advance(10)
    poll(app, box.id, T0 + 10)
    assert interface(app, box.id, "vlan10").present is False
    assert interface(app, box.id, "ether1").present is True


def test_a_poll_costs_the_same_few_statements_with_5_or_45_interfaces(app, box, monkeypatch):
    from sqlalchemy import event

    from isp.services import alerts

    monkeypatch.setattr(alerts, "evaluate_routers", lambda *a, **k: None)  # the alert engine's reads are its own

    def statements(now):
        seen = []
        with app.app_context():
            engine = _db.engine
            listener = lambda *args: seen.append(args[2])  # noqa: E731 - the statement text
            event.listen(engine, "before_cursor_execute", listener)
            try:
                from isp.jobs.monitor import poll_router

                assert poll_router(box.id, now=now) == "ok"
            finally:
                event.remove(engine, "before_cursor_execute", listener)
        return [s for s in seen if not s.lstrip().upper().startswith(("SAVEPOINT", "RELEASE"))]

    poll(app, box.id, T0)
    box.fleet.advance(10)
    few = statements(T0 + 10)
    with box.sim.state.lock:
        for n in range(40):
            box.sim.state.menus["/interface"].add({"name": f"vlan{n}", "type": "vlan"}, internal=True)
    box.fleet.advance(10)
    statements(T0 + 20)  # the new interfaces are inserted once
    box.fleet.advance(10)
    many = statements(T0 + 30)
    assert len(many) == len(few) <= 6, "\n".join(s[:100] for s in many)


def test_a_router_without_the_hotspot_package_is_polled_without_hotspot_figures(app, box):
    with box.sim.state.lock:
        box.sim.state.menus.pop("/ip/hotspot/active")
    assert poll(app, box.id, T0) == "ok"
    with app.app_context():
        sample = _db.session.get(RouterSample, (box.id, T0))
        assert sample.hotspot_active is None and sample.ppp_active == 0 and sample.cpu is not None
