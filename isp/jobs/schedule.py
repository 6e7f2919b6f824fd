"""Every periodic job, declared as data: (function path, queue, interval seconds, timeout)."""
from __future__ import annotations

SCHEDULE: tuple[dict, ...] = (
    {"func": "isp.jobs.maintenance.heartbeat", "queue": "low", "interval": 60, "timeout": 30},
)
