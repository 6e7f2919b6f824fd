"""Network monitoring: interfaces, samples and their rollups, alert rules, alerts and maintenance windows.

Time series use integer epoch seconds in UTC (`ts`): compact, and a bucket is `ts - ts % step` in any SQL dialect.
A sample table's primary key is (series, ts), so a graph reads one index range; retention deletes by `ts`.
"""
from __future__ import annotations

import enum
import json
from datetime import datetime

from sqlalchemy import BigInteger, Enum, Float, ForeignKey, Index, Integer, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from isp.extensions import db
from isp.models.base import UTCDateTime, utcnow

# SQLite only auto-increments an INTEGER PRIMARY KEY; BigInteger elsewhere.
Counter64 = BigInteger().with_variant(Integer(), "sqlite")


class RouterInterface(db.Model):
    """An interface the poll has seen on a router (dynamic pppoe-in interfaces are not tracked)."""

    __tablename__ = "router_interfaces"
    __table_args__ = (UniqueConstraint("router_id", "name", name="uq_router_interfaces_router_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    router_id: Mapped[int] = mapped_column(ForeignKey("routers.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(32), default="")
    comment: Mapped[str] = mapped_column(String(255), default="")
    running: Mapped[bool] = mapped_column(default=True)
    disabled: Mapped[bool] = mapped_column(default=False)
    # The latest rates (bits per second) from counter deltas, for lists and the dashboard.
    rx_bps: Mapped[int] = mapped_column(BigInteger, default=0)
    tx_bps: Mapped[int] = mapped_column(BigInteger, default=0)
    # Times running went true -> false as seen by the poll, and when running last changed (flap detection).
    link_downs: Mapped[int] = mapped_column(default=0)
    last_change_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # False once the router no longer lists it (kept for its history until retention drops its samples).
    present: Mapped[bool] = mapped_column(default=True)


class RouterSample(db.Model):
    """One poll of a router's gauges (raw, kept MONITOR_RAW_HOURS)."""

    __tablename__ = "router_samples"
    __table_args__ = (Index("ix_router_samples_ts", "ts"),)

    router_id: Mapped[int] = mapped_column(ForeignKey("routers.id", ondelete="CASCADE"), primary_key=True)
    ts: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    cpu: Mapped[int | None] = mapped_column(SmallInteger)            # percent
    memory: Mapped[float | None] = mapped_column(Float)              # percent used
    temperature: Mapped[float | None] = mapped_column(Float)         # degrees C, None where the board has no sensor
    voltage: Mapped[float | None] = mapped_column(Float)             # volts
    ppp_active: Mapped[int | None] = mapped_column(Integer)
    hotspot_active: Mapped[int | None] = mapped_column(Integer)
    queue_rx_bps: Mapped[int | None] = mapped_column(BigInteger)     # our simple queues' total upload rate
    queue_tx_bps: Mapped[int | None] = mapped_column(BigInteger)     # ... and download rate


class InterfaceSample(db.Model):
    """One poll of one interface: rates from counter deltas (raw, kept MONITOR_RAW_HOURS)."""

    __tablename__ = "interface_samples"
    __table_args__ = (Index("ix_interface_samples_ts", "ts"),)

    interface_id: Mapped[int] = mapped_column(ForeignKey("router_interfaces.id", ondelete="CASCADE"), primary_key=True)
    ts: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    rx_bps: Mapped[int] = mapped_column(BigInteger, default=0)
    tx_bps: Mapped[int] = mapped_column(BigInteger, default=0)


class RouterRollup(db.Model):
    """Avg/min/max of a router's gauges per bucket of `step` seconds (60: MONITOR_MINUTE_DAYS, 3600: MONITOR_HOUR_DAYS)."""

    __tablename__ = "router_rollups"
    __table_args__ = (Index("ix_router_rollups_step_ts", "step", "ts"),)

    router_id: Mapped[int] = mapped_column(ForeignKey("routers.id", ondelete="CASCADE"), primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ts: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    samples: Mapped[int] = mapped_column(Integer, default=0)
    cpu_avg: Mapped[float | None] = mapped_column(Float)
    cpu_min: Mapped[float | None] = mapped_column(Float)
    cpu_max: Mapped[float | None] = mapped_column(Float)
    memory_avg: Mapped[float | None] = mapped_column(Float)
    memory_min: Mapped[float | None] = mapped_column(Float)
    memory_max: Mapped[float | None] = mapped_column(Float)
    temperature_avg: Mapped[float | None] = mapped_column(Float)
    temperature_min: Mapped[float | None] = mapped_column(Float)
    temperature_max: Mapped[float | None] = mapped_column(Float)
    voltage_avg: Mapped[float | None] = mapped_column(Float)
    ppp_active_avg: Mapped[float | None] = mapped_column(Float)
    ppp_active_max: Mapped[int | None] = mapped_column(Integer)
    hotspot_active_avg: Mapped[float | None] = mapped_column(Float)
    hotspot_active_max: Mapped[int | None] = mapped_column(Integer)


class InterfaceRollup(db.Model):
    """Avg/min/max rates of an interface per bucket of `step` seconds."""

    __tablename__ = "interface_rollups"
    __table_args__ = (Index("ix_interface_rollups_step_ts", "step", "ts"),)

    interface_id: Mapped[int] = mapped_column(ForeignKey("router_interfaces.id", ondelete="CASCADE"), primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ts: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    samples: Mapped[int] = mapped_column(Integer, default=0)
    rx_avg: Mapped[int] = mapped_column(BigInteger, default=0)
    rx_min: Mapped[int] = mapped_column(BigInteger, default=0)
    rx_max: Mapped[int] = mapped_column(BigInteger, default=0)
    tx_avg: Mapped[int] = mapped_column(BigInteger, default=0)
    tx_min: Mapped[int] = mapped_column(BigInteger, default=0)
    tx_max: Mapped[int] = mapped_column(BigInteger, default=0)


class MonitorCursor(db.Model):
    """How far a rollup (or another incremental monitoring job) has got: `ts` of the next bucket to compute."""

    __tablename__ = "monitor_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    ts: Mapped[int] = mapped_column(Integer, default=0)


class RouterLogEntry(db.Model):
    """The router's own log tail (`/log print` since the last id), kept MONITOR_RAW_HOURS."""

    __tablename__ = "router_log"
    __table_args__ = (Index("ix_router_log_router_id_id", "router_id", "id"), Index("ix_router_log_at", "at"))

    id: Mapped[int] = mapped_column(Counter64, primary_key=True)
    router_id: Mapped[int] = mapped_column(ForeignKey("routers.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)   # when we read it (the router's time is text)
    router_time: Mapped[str] = mapped_column(String(32), default="")
    topics: Mapped[str] = mapped_column(String(120), default="")
    message: Mapped[str] = mapped_column(Text, default="")


class AlertKind(enum.Enum):
    """What a rule watches."""

    metric = "metric"                  # a router gauge (cpu, memory, temperature, voltage) above/below thresholds
    offline = "offline"                # router not seen for N seconds, or its circuit open
    interface_down = "interface_down"  # an interface not running (not disabled by us)
    link_flap = "link_flap"            # N link downs within a window
    traffic_spike = "traffic_spike"    # rate vs the same hour's baseline over the last 7 days
    dead_letters = "dead_letters"      # outbox dead letters
    backlog = "backlog"                # age of the oldest unfinished outbox command
    reseller_stock = "reseller_stock"  # a reseller's unsold vouchers below N
    radius_failures = "radius_failures"  # RADIUS authentication failures per minute
    suspensions = "suspensions"        # suspensions per hour


class AlertScope(enum.Enum):
    all = "all"
    site = "site"
    router = "router"


class AlertRule(db.Model):
    """One alert rule, editable by admins. Thresholds are "bad when value >= threshold" unless `below`."""

    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[AlertKind] = mapped_column(Enum(AlertKind, native_enum=False, length=32))
    metric: Mapped[str] = mapped_column(String(32), default="")  # metric kind: cpu, memory, temperature, voltage
    below: Mapped[bool] = mapped_column(default=False)           # bad when the value falls below (e.g. voltage)
    warning: Mapped[float | None] = mapped_column(Float)
    critical: Mapped[float | None] = mapped_column(Float)
    # A raised alert clears only once the value is back past threshold -/+ hysteresis.
    hysteresis: Mapped[float] = mapped_column(Float, default=0.0)
    # The condition must hold this long before the alert opens (0: at once).
    for_seconds: Mapped[int] = mapped_column(default=0)
    scope: Mapped[AlertScope] = mapped_column(Enum(AlertScope, native_enum=False, length=16), default=AlertScope.all)
    site: Mapped[str] = mapped_column(String(120), default="")
    router_id: Mapped[int | None] = mapped_column(ForeignKey("routers.id", ondelete="CASCADE"))
    # Kind-specific knobs, e.g. {"window": 600, "count": 3} for link_flap, {"factor": 3} for traffic_spike.
    params_json: Mapped[str] = mapped_column(Text, default="{}")
    # Comma-separated notification channel names (email, webhook, sms, telegram) and their recipients per channel
    # as JSON ({"email": "noc@example.net", "sms": "+254700000001", "telegram": "123456"}; webhook uses its URL).
    channels: Mapped[str] = mapped_column(String(200), default="")
    recipients_json: Mapped[str] = mapped_column(Text, default="{}")
    # Unacknowledged for this many minutes: notify these channels too (NULL: never escalate).
    escalate_after_minutes: Mapped[int | None] = mapped_column()
    escalate_channels: Mapped[str] = mapped_column(String(200), default="")
    notify_recovery: Mapped[bool] = mapped_column(default=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def params(self) -> dict:
        return json.loads(self.params_json or "{}")

    @params.setter
    def params(self, value: dict) -> None:
        self.params_json = json.dumps(value, sort_keys=True)

    @property
    def recipients(self) -> dict:
        return json.loads(self.recipients_json or "{}")

    @recipients.setter
    def recipients(self, value: dict) -> None:
        self.recipients_json = json.dumps(value, sort_keys=True)

    @property
    def channel_list(self) -> list[str]:
        return [c for c in (x.strip() for x in self.channels.split(",")) if c]


class AlertState(enum.Enum):
    """Lifecycle of an alert. `pending`: the condition holds but its delay has not run out (not shown as open)."""

    pending = "pending"
    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"

    @classmethod
    def active(cls) -> tuple[AlertState, ...]:
        return (cls.open, cls.acknowledged)


class AlertSeverity(enum.Enum):
    warning = "warning"
    critical = "critical"


class Alert(db.Model):
    """One alert: a rule's condition on one target, from first seen to resolved. Open ones are deduplicated by open_key."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_state_id", "state", "id"),
        Index("ix_alerts_router_id_state", "router_id", "state"),
        Index("ix_alerts_rule_id_id", "rule_id", "id"),
        Index("ix_alerts_opened_at", "opened_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"))
    router_id: Mapped[int | None] = mapped_column(ForeignKey("routers.id", ondelete="CASCADE"))
    # What within the router (or globally) it is about: "" for the router itself, "iface:ether1", "reseller:7", ...
    target: Mapped[str] = mapped_column(String(120), default="")
    # "<rule>:<router or 0>:<target>" while pending/open/acknowledged, NULL once resolved: one live alert per key.
    open_key: Mapped[str | None] = mapped_column(String(191), unique=True)
    state: Mapped[AlertState] = mapped_column(Enum(AlertState, native_enum=False, length=16), default=AlertState.pending)
    severity: Mapped[AlertSeverity] = mapped_column(Enum(AlertSeverity, native_enum=False, length=16),
                                                    default=AlertSeverity.warning)
    value: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str] = mapped_column(String(255), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)   # condition first seen
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)             # delay ran out: raised
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ack_note: Mapped[str] = mapped_column(Text, default="")
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Why its notifications are held back: "", "maintenance", "dependency", "flapping".
    suppressed: Mapped[str] = mapped_column(String(32), default="")
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AlertEvent(db.Model):
    """One line of an alert's history: opened, escalated, acknowledged, resolved, notified, suppressed..."""

    __tablename__ = "alert_events"
    __table_args__ = (Index("ix_alert_events_alert_id_id", "alert_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(Text, default="")


class MaintenanceWindow(db.Model):
    """A router or a site silenced for a period: its alerts still open, but nothing is sent."""

    __tablename__ = "maintenance_windows"
    __table_args__ = (Index("ix_maintenance_windows_ends_at", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    router_id: Mapped[int | None] = mapped_column(ForeignKey("routers.id", ondelete="CASCADE"))
    site: Mapped[str] = mapped_column(String(120), default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(255), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
