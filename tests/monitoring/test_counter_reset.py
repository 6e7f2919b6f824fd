"""A counter that went down was reset, not wrapped, unless it was near its width: no bogus multi-Gb/s sample."""
from __future__ import annotations

from isp.services import monitor_poll as mp
from tests.monitoring.conftest import T0, iface_samples, interface, poll, set_counters


def _bytes(sim, name):
    with sim.state.lock:
        iface = sim.state.menus["/interface"].by_name(name)
        return int(iface["_rx"]), int(iface["_tx"])


def test_reset_counters_counts_from_zero_instead_of_a_32_bit_wrap(app, box):
    set_counters(box.sim, "ether1", rx=1_000_000_000, tx=1_000_000_000)
    poll(app, box.id, T0)
    box.fleet.advance(10)
    set_counters(box.sim, "ether1", rx=10_000, tx=5_000)  # /interface reset-counters, then 10 s of traffic
    poll(app, box.id, T0 + 10)
    ether1 = interface(app, box.id, "ether1")
    assert iface_samples(app, ether1.id)[T0 + 10] == (8_000, 4_000)  # 10,000 and 5,000 bytes in 10 s, no spike
    assert (ether1.rx_bps, ether1.tx_bps) == (8_000, 4_000)


def test_a_real_32_bit_wrap_at_the_routers_own_pace_is_still_exact(app, box):
    box.sim.wrap_counters("ether1", bits=32)  # 5 s of its traffic below the wrap
    rx0, tx0 = _bytes(box.sim, "ether1")
    poll(app, box.id, T0)
    box.fleet.advance(10)
    rx1, tx1 = _bytes(box.sim, "ether1")
    poll(app, box.id, T0 + 10)
    assert iface_samples(app, interface(app, box.id, "ether1").id)[T0 + 10] == (round((rx1 - rx0) * 8 / 10),
                                                                               round((tx1 - tx0) * 8 / 10))


def test_a_decrease_is_a_wrap_only_near_the_width_and_no_count_beats_max_bps():
    assert mp.delta(1_000_000_000, 10_000, 10) == 10_000             # reset of a value below 2^32: from zero
    assert mp.delta(2 ** 32 - 1_000_000, 500, 10) == 1_000_500        # near 2^32: a wrap
    assert mp.delta(2 ** 64 - 10, 5, 10) == 15                        # near 2^64: a wrap
    assert mp.delta(2 ** 40, 5000, 10) == 5000                        # reset of a 64-bit counter
    assert mp.delta(0, 10 ** 13, 10) is None                          # 8 Tb/s: impossible, no sample
    assert mp.delta(10 ** 13, 10 ** 12, 10) is None                   # reset, but still more than MAX_BPS allows
    reading = mp.Reading(resource={"uptime": "1h"}, interfaces=[{"name": "e1", "rx": 10 ** 13, "tx": 0}])
    assert mp.rates({"ts": 0, "uptime": 60, "ifaces": {"e1": [0, 0]}}, reading, 10) == {"e1": None}
