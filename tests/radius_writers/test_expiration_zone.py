"""`Expiration` is parsed by FreeRADIUS in its own local zone: the value is written in RADIUS_TIMEZONE."""
from __future__ import annotations

from datetime import UTC, datetime

from isp.radius import writers


def test_expiration_is_written_in_the_zone_freeradius_runs_in(app, ctx):
    moment = datetime(2026, 12, 31, 22, 30, tzinfo=UTC)
    assert writers.expiration(moment) == "31 Dec 2026 22:30:00"  # the default: UTC, as our private server runs
    assert writers.expiration(moment.replace(tzinfo=None)) == "31 Dec 2026 22:30:00"  # a stored (naive) time is UTC
    app.config["RADIUS_TIMEZONE"] = "Africa/Nairobi"  # UTC+3: a server running in Nairobi time reads its wall clock
    try:
        assert writers.expiration(moment) == "01 Jan 2027 01:30:00"
    finally:
        app.config["RADIUS_TIMEZONE"] = "UTC"
