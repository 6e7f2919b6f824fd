"""Template filters and globals: times, money, sizes, durations and the schedule in words."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, has_request_context

from isp.units import format_bytes, format_duration, with_currency


def operator_currency() -> str:
    """The operator's currency from Settings ('$', 'KES' or ''), read once per request."""
    from isp.extensions import db
    from isp.models import Branding

    if "isp_currency" not in g:
        row = db.session.get(Branding, 1)
        g.isp_currency = (row.currency or "").strip() if row else ""
    return g.isp_currency


def format_money(value: Decimal | int | str | None, currency: str = "") -> str:
    """'-$48.00', '$1,250.00', '-KES 48.00', '48.00': the sign leads, a symbol sticks to the amount, a code is spaced."""
    if value is None or value == "":
        return "—"
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    sign = "-" if amount < 0 else ""
    return sign + with_currency(f"{abs(amount):,.2f}", currency)


def money(value: Decimal | int | str | None) -> str:
    """A money amount in the operator's currency (from Settings)."""
    return format_money(value, operator_currency() if has_request_context() else "")


def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Show a UTC datetime in the operator's timezone."""
    if value is None:
        return "—"
    return value.astimezone(ZoneInfo(current_app.config["ISP_TIMEZONE"])).strftime(fmt)


def duration(value: int | None) -> str:
    """Seconds in RouterOS notation: 1d, 12h, 1h30m."""
    return format_duration(value)


def filesize(value: int | None) -> str:
    """Bytes as 1.5 GiB."""
    return format_bytes(value)


def epoch(value: float | None) -> datetime | None:
    """A Unix timestamp (as workers store them in Redis) as an aware UTC datetime."""
    return None if value is None else datetime.fromtimestamp(float(value), UTC)


def ago(value: datetime | None) -> str:
    """How long ago, coarsely: '42 s', '5 min', '3 h', '2 d'."""
    if value is None:
        return "—"
    if value.tzinfo is None:  # RQ hands back naive UTC
        value = value.replace(tzinfo=UTC)
    seconds = max(0, int((datetime.now(UTC) - value).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def every(seconds: int) -> str:
    """An interval in words: 'every 10 s', 'every minute', 'every 5 min', 'every hour'."""
    for unit, size, one in (("h", 3600, "hour"), ("min", 60, "minute")):
        if seconds >= size and seconds % size == 0:
            return f"every {one}" if seconds == size else f"every {seconds // size} {unit}"
    return f"every {seconds} s"


def schedule_every(job: str) -> str:
    """How often the clock runs a periodic job, in words, from isp.jobs.schedule (job: 'monitor.poll_all')."""
    from isp.jobs.schedule import SCHEDULE

    for entry in SCHEDULE:
        if entry["func"].endswith("." + job):
            seconds = entry["interval"] if "interval" in entry else current_app.config[entry["interval_config"]]
            return every(int(seconds))
    raise LookupError(f"no periodic job {job!r} in isp.jobs.schedule.SCHEDULE")


FILTERS = {"money": money, "localtime": localtime, "duration": duration, "filesize": filesize, "epoch": epoch,
           "ago": ago, "every": every}


def init_filters(app: Flask) -> None:
    """Register the template filters and the schedule helper."""
    app.jinja_env.filters.update(FILTERS)
    app.jinja_env.globals["schedule_every"] = schedule_every
