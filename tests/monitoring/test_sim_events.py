"""The poll against the simulator's own monitoring events: counter wraps, unplugged links and the /log tail."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from isp.extensions import db as _db
from isp.models.monitoring import RouterLogEntry
from tests.monitoring.conftest import T0, iface_samples, interface, poll


def _bytes(sim, name):
    with sim.state.lock:
        iface = sim.state.menus["/interface"].by_name(name)
        return int(iface["_rx"]), int(iface["_tx"]), iface["rx-byte"]


@pytest.mark.parametrize("bits", [32, 64])
def test_the_rate_over_a_counter_the_router_wraps_is_the_traffic_it_carried(app, box, bits):
    box.sim.wrap_counters("ether1", bits=bits, margin=1000)
    rx0, tx0, shown = _bytes(box.sim, "ether1")
    assert int(shown) == 2 ** bits - 1000
    poll(app, box.id, T0)
    box.fleet.advance(10)
    rx1, tx1, shown = _bytes(box.sim, "ether1")
    assert int(shown) < 2 ** bits - 1000  # it wrapped
    poll(app, box.id, T0 + 10)
    assert iface_samples(app, interface(app, box.id, "ether1").id)[T0 + 10] == (round((rx1 - rx0) * 8 / 10),
                                                                               round((tx1 - tx0) * 8 / 10))


def test_an_unplugged_cable_is_one_link_down(app, box):
    from isp.services import metrics_store

    poll(app, box.id, T0)
    box.sim.set_link("ether2", running=False)
    box.fleet.advance(10)
    poll(app, box.id, T0 + 10)
    ether2 = interface(app, box.id, "ether2")
    assert ether2.running is False and ether2.link_downs == 1
    box.sim.set_link("ether2", running=True)
    box.fleet.advance(10)
    poll(app, box.id, T0 + 20)
    assert interface(app, box.id, "ether2").running is True
    with app.app_context():
        assert metrics_store.link_downs_since([ether2.id], T0) == {ether2.id: 1}


def _log(app, router_id):
    with app.app_context():
        return [r.message for r in _db.session.scalars(select(RouterLogEntry).where(RouterLogEntry.router_id == router_id)
                                                        .order_by(RouterLogEntry.id))]


def test_the_log_tail_is_read_once_each_line_and_again_from_the_start_after_a_reboot(app, box):
    box.sim.write_log("first line")
    poll(app, box.id, T0)
    assert "first line" in _log(app, box.id)
    box.sim.write_log("second line", topics="system,error")
    box.fleet.advance(10)
    poll(app, box.id, T0 + 10)
    poll(app, box.id, T0 + 11)
    lines = _log(app, box.id)
    assert lines.count("first line") == 1 and lines.count("second line") == 1
    assert lines.index("first line") < lines.index("second line")
    with app.app_context():
        row = _db.session.scalar(select(RouterLogEntry).where(RouterLogEntry.message == "second line"))
        assert row.topics == "system,error" and row.router_time
    box.sim.reboot()
    box.fleet.advance(10)
    box.sim.write_log("after the reboot")
    for n in range(3):  # the first poll may find the pooled connection closed by the reboot
        poll(app, box.id, T0 + 20 + n)
    assert _log(app, box.id).count("after the reboot") == 1
    assert _log(app, box.id).count("second line") == 1
