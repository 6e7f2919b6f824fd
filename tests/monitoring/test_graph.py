"""Graph reads: the resolution follows the range (raw, minute, hour, coarser) and never exceeds 1,000 points."""
from __future__ import annotations

import pytest
from sqlalchemy import insert

from isp.extensions import db as _db
from isp.models.monitoring import InterfaceSample, RouterInterface, RouterRollup, RouterSample
from tests.monitoring.conftest import T0

NOW = T0 + 400 * 86400  # an hour boundary


@pytest.fixture
def history(app, make_router):
    """Two hours of raw samples, 14 days of minute rollups and a year of hour rollups for one router."""
    router, other = make_router(), make_router()
    with app.app_context():
        mine, theirs = RouterInterface(router_id=router.id, name="ether1"), RouterInterface(router_id=other.id, name="x")
        _db.session.add_all([mine, theirs])
        _db.session.flush()
        raw = [{"router_id": router.id, "ts": ts, "cpu": ts // 10 % 100, "memory": 50.0}
               for ts in range(NOW - 7200, NOW + 1, 10)]
        _db.session.execute(insert(RouterSample.__table__), raw)
        _db.session.execute(insert(InterfaceSample.__table__), [{"interface_id": mine.id, "ts": r["ts"], "rx_bps": 1000,
                                                       "tx_bps": 10} for r in raw])
        minutes = [{"router_id": router.id, "step": 60, "ts": ts, "samples": 6, "cpu_avg": ts // 60 % 2 * 10.0,
                    "cpu_min": 0.0, "cpu_max": 10.0 + ts // 60 % 2} for ts in range(NOW - 14 * 86400, NOW, 60)]
        hours = [{"router_id": router.id, "step": 3600, "ts": ts, "samples": 360, "cpu_avg": 20.0, "cpu_min": 1.0,
                  "cpu_max": 99.0} for ts in range(NOW - 365 * 86400, NOW, 3600)]
        _db.session.execute(insert(RouterRollup.__table__), minutes + hours)
        _db.session.commit()
        return router.id, mine.id, theirs.id


def _graph(app, router_id, series, seconds):
    from isp.services import metrics_store

    with app.app_context():
        return metrics_store.graph(router_id, series, NOW - seconds, NOW, now=NOW)


def test_an_hour_comes_raw_at_the_poll_interval(app, history):
    router_id, _, _ = history
    got = _graph(app, router_id, "system", 3600)
    assert (got["source"], got["step"], len(got["t"])) == ("raw", 10, 361)
    assert got["t"][0] == NOW - 3600 and got["cpu"][1] == (NOW - 3590) // 10 % 100
    assert "cpu_min" not in got


def test_six_hours_group_raw_samples_into_half_minutes_with_min_and_max(app, history):
    router_id, _, _ = history
    got = _graph(app, router_id, "system", 6 * 3600)
    assert (got["source"], got["step"]) == ("raw", 30)
    assert len(got["t"]) == 241  # only two hours are stored raw
    first = [(got["t"][0] + k) // 10 % 100 for k in (0, 10, 20)]
    assert (got["cpu"][0], got["cpu_min"][0], got["cpu_max"][0]) == (sum(first) / 3, min(first), max(first))


def test_a_day_reads_minute_rollups_grouped_into_two_minutes(app, history):
    router_id, _, _ = history
    got = _graph(app, router_id, "system", 86400)
    assert (got["source"], got["step"]) == ("minute", 120) and len(got["t"]) == 720
    assert set(got["cpu"]) == {5.0} and set(got["cpu_min"]) == {0.0} and set(got["cpu_max"]) == {11.0}


def test_longer_ranges_use_the_coarsest_store_that_fits(app, history):
    router_id, _, _ = history
    for seconds, source, step in ((7 * 86400, "minute", 900), (30 * 86400, "hour", 3600),
                                  (365 * 86400, "hour", 43200), (20 * 86400, "hour", 3600)):
        got = _graph(app, router_id, "system", seconds)
        assert (got["source"], got["step"]) == (source, step)
        assert 0 < len(got["t"]) <= 1000 and len(got["cpu"]) == len(got["t"])
        if source == "hour":
            assert set(got["cpu"]) == {20.0} and set(got["cpu_max"]) == {99.0}


def test_no_range_returns_more_than_a_thousand_points(app, history):
    router_id, _, _ = history
    for seconds in (60, 7201, 9999, 3 * 86400, 45 * 86400, 200 * 86400, 3 * 365 * 86400):
        assert len(_graph(app, router_id, "system", seconds)["t"]) <= 1000, seconds


def test_an_interface_graph_is_rates_and_only_for_the_routers_own_interfaces(app, history):
    router_id, mine, theirs = history
    got = _graph(app, router_id, f"iface:{mine}", 600)
    assert got["source"] == "raw" and set(got["rx"]) == {1000} and set(got["tx"]) == {10}
    assert _graph(app, router_id, f"iface:{theirs}", 600)["t"] == []
    assert _graph(app, router_id, "iface:x; drop", 600)["t"] == []


def test_storage_bytes_counts_the_monitoring_tables(app, history):
    from isp.services import metrics_store

    with app.app_context():
        by_table = metrics_store.storage_by_table()
        assert by_table["router_rollups"] > 0 and metrics_store.storage_bytes() == sum(by_table.values())


def test_a_day_ends_with_buckets_read_from_raw_samples_the_rollup_has_not_reached(app, history):
    from sqlalchemy import delete

    from isp.models.monitoring import MonitorCursor

    router_id, _, _ = history
    with app.app_context():
        _db.session.execute(delete(RouterRollup).where(RouterRollup.step == 60, RouterRollup.ts >= NOW - 600))
        _db.session.add(MonitorCursor(name="rollup:60", ts=NOW - 600))  # rolled up to ten minutes ago
        _db.session.commit()
    got = _graph(app, router_id, "system", 86400)
    assert (got["source"], got["step"]) == ("minute", 120)
    assert got["t"][-1] == NOW and got["t"][-6] == NOW - 600 and got["t"] == sorted(set(got["t"]))
    raw = [ts // 10 % 100 for ts in range(NOW - 600, NOW - 480, 10)]  # the first bucket read from raw samples
    assert (got["cpu"][-6], got["cpu_min"][-6], got["cpu_max"][-6]) == (round(sum(raw) / 12, 2), min(raw), max(raw))
    assert got["cpu"][-7] == 5.0  # the bucket before it comes from the minute rollups
    assert len(got["cpu_max"]) == len(got["t"]) and "memory_min" in got
