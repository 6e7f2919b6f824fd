"""The poll's arithmetic and parsing without a router: counter deltas, health rows of each RouterOS generation."""
from __future__ import annotations

from isp.services import monitor_poll as mp


def test_a_counter_that_went_down_wrapped_at_its_width_unless_that_means_an_impossible_rate():
    assert mp.delta(100, 250, 10) == 150
    assert mp.delta(2 ** 32 - 10, 5, 10) == 15
    assert mp.delta(2 ** 40, 2 ** 40 + 5, 10) == 5
    assert mp.delta(2 ** 64 - 10, 5, 10) == 15
    assert mp.delta(2 ** 40, 5000, 10) == 5000  # reset-counters on a 64-bit counter: count from zero


def test_health_rows_of_v7_v6_and_a_chr():
    v7 = [{"name": "voltage", "value": "24.1", "type": "V"}, {"name": "cpu-temperature", "value": "52", "type": "C"},
          {"name": "temperature", "value": "43", "type": "C"}]
    assert mp.health(v7) == {"temperature": 43.0, "voltage": 24.1}
    assert mp.health([{"voltage": "12.2", "temperature": "38"}]) == {"temperature": 38.0, "voltage": 12.2}
    assert mp.health([{"name": "board-temperature1", "value": "40"}]) == {"temperature": 40.0, "voltage": None}
    assert mp.health([]) == {"temperature": None, "voltage": None}


def test_a_reading_parses_counts_queue_rates_and_leaves_out_dynamic_interfaces():
    rows = {"res": [{"cpu-load": "7", "total-memory": "1000", "free-memory": "250", "uptime": "1d2h"}],
            "id": [{"name": "GW"}], "hl": [],
            "if": [{"name": "ether1", "type": "ether", "running": "true", "rx-byte": "10", "tx-byte": "20"},
                   {"name": "<l2tp-x>", "type": "l2tp-in", "dynamic": "true", "running": "true"}],
            "ppp": [], "hs": [], "q": [{"rate": "1000/2000"}, {"rate": "5/5", "disabled": "true"}, {"rate": "3/4"}],
            "log": [{".id": "*A", "time": "10:00:00", "topics": "system,info", "message": "hello"}]}
    reading = mp.parse(rows, {"ppp": "3", "hs": "0"})
    assert (reading.cpu, reading.memory, reading.uptime, reading.identity) == (7, 75.0, 93600, "GW")
    assert [i["name"] for i in reading.interfaces] == ["ether1"] and reading.interfaces[0]["rx"] == 10
    assert (reading.ppp_active, reading.hotspot_active) == (3, 0)
    assert (reading.queue_rx_bps, reading.queue_tx_bps) == (1003, 2004)
    assert reading.log == [{"id": "*A", "time": "10:00:00", "topics": "system,info", "message": "hello"}]
    assert mp.parse(rows, {}, log_ok=False).log is None and mp.parse(rows, {}).ppp_active is None
