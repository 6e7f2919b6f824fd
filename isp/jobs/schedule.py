"""Every periodic job, declared as data: function path, queue, interval seconds (or `interval_config`,
the config key that holds it), timeout, and an optional config flag (`when`) that must be true for
the clock to register it."""
from __future__ import annotations

SCHEDULE: tuple[dict, ...] = (
    {"func": "isp.jobs.maintenance.heartbeat", "queue": "low", "interval": 60, "timeout": 30},
    {"func": "isp.jobs.outbox.sweep_outbox", "queue": "normal", "interval": 15, "timeout": 120},
    {"func": "isp.jobs.monitor.poll_all", "queue": "low", "interval": 10, "timeout": 30},
    # Expiry is SQL only and runs often: a voucher is retired within seconds of its expiry time.
    {"func": "isp.jobs.vouchers.expire_vouchers", "queue": "critical", "interval": 5, "timeout": 60},
    {"func": "isp.jobs.vouchers.poll_usage_all", "queue": "normal", "interval": 10, "timeout": 30},
    # Reconcile compares each router with SQL and queues what drifted (also on demand and after a reboot).
    {"func": "isp.jobs.reconcile.reconcile_all", "queue": "normal", "interval_config": "RECONCILE_INTERVAL", "timeout": 60},
    {"func": "isp.jobs.demo.traffic", "queue": "normal", "interval": 10, "timeout": 30, "when": "ISP_DEMO_TRAFFIC"},
)
