"""graph.json and live.json: compact columns, the window asked for, role checks and clear 400s."""
from __future__ import annotations

import pytest

from isp.services import metrics_store, router_monitor

JSON = {"Accept": "application/json"}


@pytest.fixture
def fake_store(monkeypatch):
    """metrics_store's contract, recorded: what the view asked for and a compact answer (the store has its own tests)."""
    calls = {"graph": [], "watch": []}

    def graph(router_id, series, start, end, now=None):
        calls["graph"].append((router_id, series, start, end))
        if series == "system":
            return {"step": 60, "t": [start + 60, start + 120], "cpu": [12, 15], "cpu_min": [10, 11], "cpu_max": [20, 30],
                    "memory": [40.5, 41.0], "temperature": [None, None]}
        return {"step": 60, "t": [start + 60], "rx": [1000], "tx": [2000], "rx_min": [900], "rx_max": [1100],
                "tx_min": [1900], "tx_max": [2100]}

    def live(router_id):
        return {"t": [100, 102, 104], "ifaces": {"ether1": {"rx": [1, 2, 3], "tx": [4, 5, 6]}}}

    monkeypatch.setattr(metrics_store, "graph", graph, raising=False)
    monkeypatch.setattr(metrics_store, "live", live, raising=False)
    monkeypatch.setattr(metrics_store, "watch", lambda router_id: calls["watch"].append(router_id), raising=False)
    return calls


def test_graph_json_gives_columns_for_the_range_asked(app, client, auth, make_router, make_iface, fake_store):
    router = make_router()
    iface = make_iface(router.id, "ether1")
    auth.login_as("operator")
    body = client.get(f"/routers/{router.id}/graph.json?series=iface:{iface.id}&range=7d").get_json()
    assert body["series"] == f"iface:{iface.id}" and body["end"] - body["start"] == 7 * 86400
    assert set(body) >= {"step", "t", "rx", "tx", "rx_min", "rx_max", "tx_min", "tx_max"}
    assert fake_store["graph"][-1] == (router.id, f"iface:{iface.id}", body["start"], body["end"])
    system = client.get(f"/routers/{router.id}/graph.json?series=system").get_json()  # the default range: one hour
    assert system["end"] - system["start"] == 3600 and system["cpu"] == [12, 15] and system["cpu_max"] == [20, 30]
    zoomed = client.get(f"/routers/{router.id}/graph.json?series=system&start=1700000000&end=1700000600")
    assert zoomed.status_code == 200 and (zoomed.get_json()["start"], zoomed.get_json()["end"]) == (1700000000, 1700000600)
    assert zoomed.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("query, message", [
    ("series=system&range=2h", "Unknown range '2h': use one of 1h, 24h, 7d, 30d, 1y."),
    ("series=system&start=1700000600&end=1700000000", "end must come after start."),
    ("series=system&start=1700000000&end=1700000010", "Zoom in to 60 s at most: the window is 10 s."),
    ("series=system&start=abc&end=1700000000", "start and end must be whole epoch seconds (UTC)."),
    ("series=system&start=1000&end=1700000000", "The window is longer than a year: history is kept one year."),
    ("series=cpu&range=1h", "series must be 'system' or 'iface:<interface id>'."),
])
def test_a_bad_window_or_series_is_a_400_that_says_why(app, client, auth, make_router, fake_store, query, message):
    router = make_router()
    auth.login_as("operator")
    response = client.get(f"/routers/{router.id}/graph.json?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"] == message
    assert fake_store["graph"] == []  # nothing read for a refused window


def test_another_routers_interface_is_refused(app, client, auth, make_router, make_iface, fake_store):
    mine, other = make_router(), make_router()
    theirs = make_iface(other.id, "ether9")
    auth.login_as("admin")
    response = client.get(f"/routers/{mine.id}/graph.json?series=iface:{theirs.id}&range=1h")
    assert response.status_code == 400 and response.get_json()["error"] == "No such interface on this router."
    assert client.get(f"/routers/{mine.id + other.id + 99}/graph.json").status_code == 404


def test_live_json_watches_the_router_and_returns_the_last_minute(app, client, auth, make_router, fake_store):
    router = make_router()
    auth.login_as("operator")
    body = client.get(f"/routers/{router.id}/live.json").get_json()
    assert body == {"t": [100, 102, 104], "ifaces": {"ether1": {"rx": [1, 2, 3], "tx": [4, 5, 6]}}}
    assert fake_store["watch"] == [router.id]


def test_resellers_get_no_router_graphs(app, client, auth, make_router, make_iface, fake_store):
    router = make_router()
    iface = make_iface(router.id)
    auth.login_as("reseller")
    for url in (f"/routers/{router.id}/graph.json?series=iface:{iface.id}", f"/routers/{router.id}/live.json"):
        response = client.get(url, headers=JSON)
        assert response.status_code == 403 and response.get_json()["error"] == "forbidden"
    assert fake_store == {"graph": [], "watch": []}  # a refused request does not even mark the router watched


def test_windows_are_picked_from_the_range_names():
    assert router_monitor.window({"range": "30d"}, now=10_000_000) == (10_000_000 - 30 * 86400, 10_000_000)
    assert router_monitor.window({"range": "1y"}, now=40_000_000) == (40_000_000 - 365 * 86400, 40_000_000)
    assert router_monitor.window({"start": "5000", "end": "9000"}, now=7000) == (5000, 7060)  # no future beyond a minute
