"""The dashboard's fleet: every router classified by trouble from a few set-based reads (no per-router query).

Reads: one Redis round trip for circuit states and the poll's latest figures, routers (1 query), samples within the
offline window only for routers Redis has no fresh figures for (0 or 1), unfinished outbox rows per router (1) and
active alerts per router and severity (1).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from isp.extensions import db, redis_store
from isp.models import Alert, AlertSeverity, AlertState, CommandState, Router, RouterCommand, RouterSample
from isp.routeros.breaker import CLOSED
from isp.routeros.breaker import key as breaker_key
from isp.routeros.status import metrics_key

# Trouble states, worst first; the fleet list sorts by this order.
DOWN, DEGRADED, HEALTHY, DISABLED = "down", "degraded", "healthy", "disabled"
STATES = (DOWN, DEGRADED, HEALTHY, DISABLED)
HIGH_CPU = 70             # percent: the default CPU rule's warning threshold (seeds: 70/90)
BACKLOG_AGE = 120         # seconds: the default backlog rule's warning threshold
BACKLOG_COUNT = 20        # unfinished commands for one router that count as a backlog whatever their age
OFFLINE_SECONDS = 45      # the default offline rule: not seen for this long
SHOWN = 15                # rows of the fleet list on the dashboard


@dataclass
class FleetRow:
    """One router as the dashboard sees it."""

    id: int
    name: str
    site: str
    state: str
    reasons: list[str] = field(default_factory=list)
    circuit: str = CLOSED
    last_seen_at: datetime | None = None
    last_error: str = ""
    cpu: float | None = None
    memory: float | None = None
    ppp: int = 0
    hotspot: int = 0
    alerts: int = 0
    critical: int = 0
    backlog: int = 0
    oldest_backlog_at: datetime | None = None

    @property
    def users(self) -> int:
        return self.ppp + self.hotspot

    def sort_key(self) -> tuple:
        """Worst first: state, then critical alerts, alerts, backlog and CPU, then name."""
        return (STATES.index(self.state), -self.critical, -self.alerts, -self.backlog, -(self.cpu or 0), self.name.lower())


@dataclass
class Fleet:
    """Every router sorted by trouble, counts per state and the fleet-wide figures derived from the same reads."""

    rows: list[FleetRow]
    counts: dict[str, int]
    hotspot: int
    ppp: int
    backlog: int
    oldest_backlog_at: datetime | None

    @property
    def users(self) -> int:
        return self.hotspot + self.ppp

    @property
    def worst(self) -> list[FleetRow]:
        """The rows the dashboard lists (disabled routers never)."""
        return [row for row in self.rows if row.state != DISABLED][:SHOWN]


def offline_after() -> int:
    """Seconds without a successful poll after which a router counts as down."""
    return max(OFFLINE_SECONDS, 3 * int(current_app.config.get("MONITOR_INTERVAL", 10)))


def _latest_samples(router_ids: list[int], since: int) -> dict[int, RouterSample]:
    """The newest sample since `since` (epoch s) of these routers: one query over the ts index range (rows, not per router)."""
    if not router_ids:
        return {}
    rows = db.session.execute(
        select(RouterSample.router_id, RouterSample.cpu, RouterSample.memory, RouterSample.ppp_active,
               RouterSample.hotspot_active)
        .where(RouterSample.ts >= since, RouterSample.router_id.in_(router_ids)).order_by(RouterSample.ts))
    return {row.router_id: row for row in rows}  # ordered by ts: the newest of each router wins


def _backlogs() -> dict[int, tuple[int, datetime | None]]:
    """Unfinished outbox rows per router: (count, oldest created_at)."""
    unfinished = RouterCommand.state.in_(CommandState.unfinished())
    if db.session.get_bind().dialect.name == "sqlite":
        # SQLite's statistics know only the average rows per state, not that nearly every command is done: told
        # nothing, it walks every command in router order (26 ms at 100,000) instead of the few unfinished ones.
        unfinished = func.unlikely(unfinished)
    rows = db.session.execute(
        select(RouterCommand.router_id, func.count(), func.min(RouterCommand.created_at))
        .where(unfinished).group_by(RouterCommand.router_id))
    return {router_id: (n, oldest) for router_id, n, oldest in rows}


def alert_counts() -> dict[int | None, dict[AlertSeverity, int]]:
    """Open and acknowledged alerts per router (None: not about a router) and severity."""
    rows = db.session.execute(
        select(Alert.router_id, Alert.severity, func.count())
        .where(Alert.state.in_(AlertState.active())).group_by(Alert.router_id, Alert.severity))
    counts: dict[int | None, dict[AlertSeverity, int]] = {}
    for router_id, severity, n in rows:
        counts.setdefault(router_id, {})[severity] = n
    return counts


# Each breaker hash's state field, for many routers in one command (a pipeline of HGETs costs a reply per router).
_STATES_LUA = """
local out = {}
for i, k in ipairs(KEYS) do out[i] = redis.call('HGET', k, 'state') or '' end
return out
"""


def _redis_state(router_ids: list[int]) -> tuple[dict[int, str], dict[int, dict]]:
    """Circuit state and latest metrics of every router in one Redis round trip (two commands)."""
    if not router_ids:
        return {}, {}
    pipe = redis_store.client.pipeline(transaction=False)
    pipe.eval(_STATES_LUA, len(router_ids), *(breaker_key(i) for i in router_ids))
    pipe.mget([metrics_key(i) for i in router_ids])
    states, raws = pipe.execute()
    circuits, metrics = {}, {}
    for router_id, state, raw in zip(router_ids, states, raws, strict=True):
        state = state.decode() if isinstance(state, bytes) else state
        circuits[router_id] = state or CLOSED
        if raw:
            try:
                metrics[router_id] = json.loads(raw)
            except ValueError:
                pass
    return circuits, metrics


def _number(value: object) -> float | None:
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def _classify(row: FleetRow, enabled: bool, now: datetime, offline: timedelta) -> None:
    """Set the row's state and the reasons a person reads."""
    if not enabled:
        row.state = DISABLED
        return
    if row.circuit != CLOSED:
        row.reasons.append(f"circuit {row.circuit}")
    if row.last_seen_at is None:
        row.reasons.append("never contacted")
    elif now - row.last_seen_at > offline:
        row.reasons.append("not seen recently")
    if row.last_error and not row.reasons:
        row.reasons.append("last poll failed")
    if row.reasons:
        row.state = DOWN
        return
    if row.alerts:
        row.reasons.append(f"{row.alerts} open alert{'s' if row.alerts != 1 else ''}")
    if row.cpu is not None and row.cpu >= HIGH_CPU:
        row.reasons.append(f"CPU {row.cpu:.0f}%")
    if row.backlog and (row.backlog >= BACKLOG_COUNT or (
            row.oldest_backlog_at is not None and (now - row.oldest_backlog_at).total_seconds() >= BACKLOG_AGE)):
        row.reasons.append(f"{row.backlog} commands waiting")
    row.state = DEGRADED if row.reasons else HEALTHY


def fleet(now: datetime, counts: dict[int | None, dict[AlertSeverity, int]] | None = None) -> Fleet:
    """Every router with its trouble state, sorted worst first, and the fleet's users online and backlog."""
    offline = timedelta(seconds=offline_after())
    routers = db.session.execute(
        select(Router.id, Router.name, Router.site, Router.enabled, Router.last_seen_at, Router.last_error)).all()
    since = now.timestamp() - offline.total_seconds()
    circuits, metrics = _redis_state([r.id for r in routers])
    metrics = {i: m for i, m in metrics.items() if float(m.get("at") or 0) >= since}
    # The poll keeps each router's last figures in Redis; samples stand in only where Redis has none (flushed, lost).
    samples = _latest_samples([r.id for r in routers if r.enabled and r.id not in metrics], int(since))
    backlogs = _backlogs()
    alerts = alert_counts() if counts is None else counts
    rows: list[FleetRow] = []
    hotspot = ppp = 0
    for r in routers:
        row = FleetRow(id=r.id, name=r.name, site=r.site or "", state=HEALTHY, circuit=circuits.get(r.id, CLOSED),
                       last_seen_at=r.last_seen_at, last_error=r.last_error or "")
        fresh, sample = metrics.get(r.id), samples.get(r.id)
        if fresh is not None:
            row.cpu, row.memory = _number(fresh.get("cpu_load")), _number(fresh.get("memory"))
            row.ppp, row.hotspot = int(_number(fresh.get("ppp_active")) or 0), int(_number(fresh.get("hotspot_active")) or 0)
        elif sample is not None:
            row.cpu, row.memory = _number(sample.cpu), _number(sample.memory)
            row.ppp, row.hotspot = sample.ppp_active or 0, sample.hotspot_active or 0
        mine = alerts.get(r.id, {})
        row.alerts, row.critical = sum(mine.values()), mine.get(AlertSeverity.critical, 0)
        row.backlog, row.oldest_backlog_at = backlogs.get(r.id, (0, None))
        _classify(row, r.enabled, now, offline)
        if row.state in (HEALTHY, DEGRADED):  # a down router's last counts are not "online now"
            hotspot, ppp = hotspot + row.hotspot, ppp + row.ppp
        rows.append(row)
    rows.sort(key=FleetRow.sort_key)
    counts = {state: 0 for state in STATES}
    for row in rows:
        counts[row.state] += 1
    oldest = min((at for _, at in backlogs.values() if at is not None), default=None)
    return Fleet(rows=rows, counts=counts, hotspot=hotspot, ppp=ppp,
                 backlog=sum(n for n, _ in backlogs.values()), oldest_backlog_at=oldest)
