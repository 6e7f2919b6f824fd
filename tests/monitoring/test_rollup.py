"""Rollups (raw -> minute -> hour) with exact figures, idempotence, and retention with an explicit `now`."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, func, insert, select

from isp.extensions import db as _db
from isp.models.monitoring import (
    InterfaceRollup,
    InterfaceSample,
    MonitorCursor,
    RouterInterface,
    RouterLogEntry,
    RouterRollup,
    RouterSample,
)
from tests.monitoring.conftest import T0


@pytest.fixture
def seeded(app, make_router):
    """A router with one interface and raw samples in two minutes of hour T0 and one minute of the next hour."""
    router = make_router()
    with app.app_context():
        iface = RouterInterface(router_id=router.id, name="ether1")
        _db.session.add(iface)
        _db.session.flush()
        raw, rates = [], []
        for minute, cpus in ((0, [10, 20, 30, 40, 50, 60]), (1, [50] * 6), (60, [80, 90])):
            for n, cpu in enumerate(cpus):
                ts = T0 + minute * 60 + n * 10
                raw.append({"router_id": router.id, "ts": ts, "cpu": cpu, "memory": 40.0 + n, "temperature": None,
                            "ppp_active": n, "hotspot_active": 2})
                rates.append({"interface_id": iface.id, "ts": ts, "rx_bps": cpu * 1000, "tx_bps": 500})
        _db.session.execute(insert(RouterSample), raw)
        _db.session.execute(insert(InterfaceSample), rates)
        _db.session.commit()
        return router.id, iface.id


def _run(app, now):
    from isp.jobs.monitor import rollup

    with app.app_context():
        return rollup(now=now)


def _rollups(app, model, key, step):
    with app.app_context():
        rows = _db.session.scalars(select(model).where(model.step == step).order_by(model.ts))
        return {r.ts - T0: r for r in rows if getattr(r, key.key) is not None}


def test_minutes_and_hours_are_rolled_with_exact_avg_min_max(app, seeded):
    router_id, iface_id = seeded
    _run(app, T0 + 3600 + 150)  # minute 60 is complete (with the lag); hour 0 too
    minutes = _rollups(app, RouterRollup, RouterRollup.router_id, 60)
    assert sorted(minutes) == [0, 60, 3600]
    first = minutes[0]
    assert (first.samples, first.cpu_avg, first.cpu_min, first.cpu_max) == (6, 35.0, 10.0, 60.0)
    assert (first.memory_avg, first.memory_min, first.memory_max) == (42.5, 40.0, 45.0)
    assert first.temperature_avg is None and (first.ppp_active_avg, first.ppp_active_max) == (2.5, 5)
    hour = _rollups(app, RouterRollup, RouterRollup.router_id, 3600)
    assert sorted(hour) == [0]  # the hour from T0+3600 is not complete yet
    assert (hour[0].samples, hour[0].cpu_avg, hour[0].cpu_min, hour[0].cpu_max) == (12, 42.5, 10.0, 60.0)
    rx = _rollups(app, InterfaceRollup, InterfaceRollup.interface_id, 60)
    assert (rx[0].rx_avg, rx[0].rx_min, rx[0].rx_max, rx[0].tx_avg) == (35_000, 10_000, 60_000, 500)
    assert _rollups(app, InterfaceRollup, InterfaceRollup.interface_id, 3600)[0].rx_avg == 42_500


def test_an_incomplete_minute_waits_for_a_later_run(app, seeded):
    from isp.services.monitor_rollup import lag

    with app.app_context():
        wait = lag()  # a batch commits up to its job timeout after its reads
    assert wait >= 60
    _run(app, T0 + 3660 + wait - 1)  # minute 60 ended, but a batch still running may yet land samples in it
    assert sorted(_rollups(app, RouterRollup, RouterRollup.router_id, 60)) == [0, 60]
    _run(app, T0 + 3660 + wait)
    assert sorted(_rollups(app, RouterRollup, RouterRollup.router_id, 60)) == [0, 60, 3600]


def test_rolling_again_or_from_a_lost_cursor_never_duplicates_or_changes_a_figure(app, seeded):
    _run(app, T0 + 3600 + 150)
    _run(app, T0 + 3600 + 150)
    with app.app_context():
        _db.session.execute(delete(MonitorCursor))  # as if two runs started from the same place
        _db.session.commit()
    _run(app, T0 + 3600 + 150)
    with app.app_context():
        counts = dict(_db.session.execute(select(RouterRollup.step, func.count()).group_by(RouterRollup.step)).all())
    assert counts == {60: 3, 3600: 1}
    assert _rollups(app, RouterRollup, RouterRollup.router_id, 3600)[0].cpu_avg == 42.5


def test_retention_drops_raw_then_minutes_then_hours(app, seeded):
    router_id, iface_id = seeded
    with app.app_context():
        _db.session.add(RouterLogEntry(router_id=router_id, at=datetime.fromtimestamp(T0, UTC), message="link up"))
        _db.session.commit()
    _run(app, T0 + 3600 + 150)

    def counts():
        with app.app_context():
            return {m.__tablename__: _db.session.scalar(select(func.count()).select_from(m))
                    for m in (RouterSample, InterfaceSample, RouterLogEntry, RouterRollup, InterfaceRollup)}

    assert counts()["router_samples"] == 14 and counts()["router_log"] == 1
    _run(app, T0 + 48 * 3600 + 120)  # raw of minutes 0 and 1 (and the log line) is past 48 h, the last minute is not
    after = counts()
    assert after["router_samples"] == 2 and after["interface_samples"] == 2 and after["router_log"] == 0
    assert after["router_rollups"] == 3 + 2  # minutes 0, 1, 60; hours 0 and (now complete) 1
    _run(app, T0 + 14 * 86400 + 90)  # minute rollups of minutes 0 and 1 past 14 days
    with app.app_context():
        steps = dict(_db.session.execute(select(RouterRollup.step, func.count()).group_by(RouterRollup.step)).all())
    assert steps == {60: 1, 3600: 2} and counts()["router_samples"] == 0
    _run(app, T0 + 365 * 86400 + 60)
    with app.app_context():
        steps = dict(_db.session.execute(select(RouterRollup.step, func.count()).group_by(RouterRollup.step)).all())
    assert steps == {3600: 1}  # a year and a minute on: the first hour went, the second is still in


def test_two_rollups_at_once_roll_each_bucket_once(app, seeded):
    import threading

    barrier, errors = threading.Barrier(2), []

    def run():
        try:
            barrier.wait(5)
            _run(app, T0 + 3600 + 150)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with app.app_context():
        counts = dict(_db.session.execute(select(RouterRollup.step, func.count()).group_by(RouterRollup.step)).all())
    assert counts == {60: 3, 3600: 1}
