"""What the filterable list pages share: a contains-pattern for LIKE and local-day date filters over UTC columns."""
from __future__ import annotations

from collections.abc import MutableMapping
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement

YEARS = (1970, 9998)  # a date filter outside these years is dropped (converting it to UTC could overflow)
DAY_KEYS = ("date_from", "date_to")


def contains(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its wildcards escaped (use with escape="\\")."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def clean_days(filters: MutableMapping[str, str]) -> None:
    """Blank date_from/date_to unless each is an ISO day within YEARS (in place)."""
    for key in DAY_KEYS:
        try:
            day = date.fromisoformat(filters[key])
        except ValueError:
            filters[key] = ""
            continue
        if not YEARS[0] <= day.year <= YEARS[1]:  # 0001-01-01 east of UTC / 9999-12-31 + 1 day overflow datetime
            filters[key] = ""


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    """A local day's first moment, in UTC (the columns store UTC)."""
    return datetime.combine(day, time.min, zone).astimezone(UTC)


def within_days(column: ColumnElement, filters: MutableMapping[str, str], tz: str) -> list[ColumnElement[bool]]:
    """Conditions keeping `column` inside the local days date_from..date_to, both inclusive (a blank end is open)."""
    zone = ZoneInfo(tz)
    conditions = []
    if filters["date_from"]:
        conditions.append(column >= _midnight(date.fromisoformat(filters["date_from"]), zone))
    if filters["date_to"]:  # up to the next local midnight
        conditions.append(column < _midnight(date.fromisoformat(filters["date_to"]) + timedelta(days=1), zone))
    return conditions
