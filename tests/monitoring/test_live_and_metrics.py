"""Live traffic while a page watches, and the per-router series on /metrics."""
from __future__ import annotations

import time

from prometheus_client.parser import text_string_to_metric_families

from isp import dispatch
from tests.conftest import run_worker
from tests.monitoring.conftest import poll, set_counters


def test_watching_queues_one_live_read_and_live_returns_the_last_minute_merged(app, box):
    from isp.services import metrics_store

    now = time.time()
    poll(app, box.id, now - 20)
    box.fleet.advance(10)
    poll(app, box.id, now - 10)  # a rate for every interface: the first point of the live graph
    with app.app_context():
        assert metrics_store.watch(box.id) == 1
        assert metrics_store.watch(box.id) == 0  # still queued: a page refreshing does not pile up reads
        assert dispatch.alive([metrics_store.live_job_id(box.id)])
    run_worker(app)
    with app.app_context():
        pipe = app.config["REDIS_CLIENT"].pipeline()
        metrics_store.add_live_point(pipe, box.id, now - 90, {"ether1": (1, 1)}, "poll")  # older than a minute
        pipe.execute()
        got = metrics_store.live(box.id)
    assert len(got["t"]) == 2 and got["t"] == sorted(got["t"]) and got["t"][0] == round(now - 10, 3)
    ether1 = got["ifaces"]["ether1"]
    assert len(ether1["rx"]) == 2 and all(isinstance(v, int) and v > 0 for v in ether1["rx"] + ether1["tx"])
    assert "<pppoe-ppp1>" not in got["ifaces"]


def test_the_live_read_stops_once_no_page_watches(app, box):
    from isp.jobs.monitor import live_traffic
    from isp.services import metrics_store

    poll(app, box.id, time.time())
    with app.app_context():
        assert live_traffic(box.id) == "not watched"
        assert metrics_store.live(box.id)["t"] == []


def test_metrics_show_each_routers_gauges_users_and_interface_rates(app, client, auth, box):
    now = time.time()
    box.sim.login("ppp1", kind="ppp")
    set_counters(box.sim, "ether1", rx=0, tx=0)
    poll(app, box.id, now - 10)
    box.fleet.advance(10)
    set_counters(box.sim, "ether1", rx=12_500, tx=2_500)
    poll(app, box.id, now)
    auth.login_as("operator")
    text = client.get("/metrics").get_data(as_text=True)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    name = (("router", "router-1"),)
    assert samples[("isp_router_up", name)] == 1
    assert 0 <= samples[("isp_router_cpu_percent", name)] <= 100
    assert 0 < samples[("isp_router_memory_used_percent", name)] < 100
    assert samples[("isp_router_temperature_celsius", name)] > 0
    assert samples[("isp_router_users_online", (("kind", "ppp"), ("router", "router-1")))] == 1
    assert samples[("isp_interface_rx_bps", (("interface", "ether1"), ("router", "router-1")))] == 10_000
    assert samples[("isp_interface_tx_bps", (("interface", "ether1"), ("router", "router-1")))] == 2_000
