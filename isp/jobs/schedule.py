"""Every periodic job, declared as data: (function path, queue, interval seconds, timeout)."""
from __future__ import annotations

SCHEDULE: tuple[dict, ...] = (
    {"func": "isp.jobs.maintenance.heartbeat", "queue": "low", "interval": 60, "timeout": 30},
    {"func": "isp.jobs.outbox.sweep_outbox", "queue": "normal", "interval": 15, "timeout": 120},
    {"func": "isp.jobs.monitor.poll_all", "queue": "low", "interval": 10, "timeout": 30},
)
