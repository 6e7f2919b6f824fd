"""Who is online, session history and daily usage of subscriptions (api mode: from the session poll).

(Interface fixed; filled in by the sessions work.)
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from isp.models import ServiceSession


@dataclass(frozen=True)
class LiveState:
    """What the last poll saw of one subscription."""

    online: bool
    address: str = ""
    caller_id: str = ""
    since: datetime | None = None      # start of the current session
    uptime_seconds: int = 0
    polled_at: datetime | None = None  # when the router was last read


def live_state(sub_ids: list[int]) -> dict[int, LiveState]:
    """Live state of many subscriptions in one query (absent ids: never seen online)."""
    return {}


def usage_days(sub_id: int, days: int = 30) -> list[tuple[date, int, int]]:
    """(day, bytes_in, bytes_out) for the last `days` operator days, oldest first, zero-filled."""
    return []


def recent_sessions(sub_id: int, limit: int = 20) -> list[ServiceSession]:
    """The subscription's latest sessions, newest first."""
    return []
