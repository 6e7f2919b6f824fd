"""Every periodic job and how often the clock enqueues it; queue, timeout and TTLs come from its spec in isp.dispatch.

`interval` is in seconds, or `interval_config` names the config key that holds it; `when` names a config
flag that must be true for the clock to register the job.
"""
from __future__ import annotations

from isp import dispatch


def _every(spec: dispatch.JobSpec, interval: int | None = None, **extra: str) -> dict:
    entry = {"func": spec.path, "queue": spec.queue, "timeout": spec.timeout, "ttl": spec.ttl, "result_ttl": spec.result_ttl,
             "failure_ttl": spec.failure_ttl}
    return {**entry, **({"interval": interval} if interval is not None else {}), **extra}


SCHEDULE: tuple[dict, ...] = (
    _every(dispatch.HEARTBEAT, 60),
    _every(dispatch.SWEEP_OUTBOX, 15),
    _every(dispatch.POLL_ALL, interval_config="MONITOR_INTERVAL"),
    _every(dispatch.EXPIRE_VOUCHERS, 5),
    _every(dispatch.POLL_USAGE_ALL, 10),
    # Reconcile compares each router with SQL and queues what drifted (also on demand and after a reboot).
    _every(dispatch.RECONCILE_ALL, interval_config="RECONCILE_INTERVAL"),
    # Subscribers: who is online (one read per router), renewals every minute, suspension on time, messages.
    _every(dispatch.POLL_SESSIONS_ALL, 15),
    _every(dispatch.BILLING_RUN, 60),
    _every(dispatch.SUSPEND_DUE, 10),
    _every(dispatch.SEND_NOTIFICATIONS, 15),
    _every(dispatch.QUEUE_REMINDERS, 300),
    _every(dispatch.DEMO_TRAFFIC, 10, when="ISP_DEMO_TRAFFIC"),
    # Radius mode: radacct rolled up into daily usage, stale sessions closed (Simultaneous-Use).
    _every(dispatch.RADIUS_ROLLUP, 60),
    _every(dispatch.RADIUS_CLEANUP, 60),
    # Monitoring: rollups and retention; alert rules over the latest samples, the pipeline and the business.
    _every(dispatch.MONITOR_ROLLUP, 60),
    _every(dispatch.EVALUATE_ALERTS, 10),
    # Security: long-ended sessions, dead remembered devices and day-old API idempotency keys are deleted.
    _every(dispatch.PURGE_SECURITY, 3600),
)
