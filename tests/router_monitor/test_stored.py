"""graph.json over rows written as the poll writes them (the real metrics_store), and the page listing interfaces."""
from __future__ import annotations

import time

from isp.extensions import db
from isp.models.monitoring import InterfaceSample, RouterSample


def test_graph_json_reads_the_stored_samples(app, client, auth, make_router, make_iface):
    router = make_router()
    iface = make_iface(router.id, "ether1", rx_bps=3_000_000, tx_bps=12_000_000, link_downs=2, running=False)
    now = int(time.time()) // 10 * 10
    with app.app_context():
        for n in range(6):
            ts = now - 600 + n * 10
            db.session.add(RouterSample(router_id=router.id, ts=ts, cpu=10 + n, memory=50.0, temperature=None))
            db.session.add(InterfaceSample(interface_id=iface.id, ts=ts, rx_bps=1000 * n, tx_bps=2000 * n))
        db.session.commit()
    auth.login_as("operator")
    system = client.get(f"/routers/{router.id}/graph.json?series=system&range=1h").get_json()
    assert system["step"] == 10 and system["end"] - system["start"] == 3600  # an hour reads the raw 10 s samples
    assert system["t"] == [now - 600 + n * 10 for n in range(6)]
    assert system["cpu"] == [10, 11, 12, 13, 14, 15] and system["memory"] == [50.0] * 6
    rates = client.get(f"/routers/{router.id}/graph.json?series=iface:{iface.id}&range=1h").get_json()
    assert rates["rx"] == [0, 1000, 2000, 3000, 4000, 5000] and rates["tx"] == [0, 2000, 4000, 6000, 8000, 10000]
    week = client.get(f"/routers/{router.id}/graph.json?series=iface:{iface.id}&range=7d").get_json()
    assert week["step"] >= 600 and "rx_max" in week  # a week reads buckets with min/max bands
    page = client.get(f"/routers/{router.id}").get_data(as_text=True)
    row = page[page.index('data-iface="ether1"'):]
    row = row[:row.index("</tr>")]
    assert ">down<" in row and "3.0 Mbit/s" in row and "12.0 Mbit/s" in row and ">2<" in row
