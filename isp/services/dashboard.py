"""Figures for the dashboards: the operator's (fleet, users online, sales, billing, alerts, pipeline) and a reseller's.

Everything is read from SQL and Redis in a bounded number of statements, whatever the fleet size (P13): no router
I/O and no per-router query.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from isp.extensions import db
from isp.models import Alert, AlertRule, AlertSeverity, AlertState, AuditEntry, CommandState, Router, RouterCommand, User
from isp.services import dashboard_fleet, dashboard_sales, pool_monitor, resellers

LATEST_ALERTS = 5


def _alerts(counts: dict[int | None, dict[AlertSeverity, int]]) -> dict:
    """Open and acknowledged alerts by severity, and the latest few (newest first)."""
    by_severity = {severity.value: 0 for severity in AlertSeverity}
    for per_router in counts.values():
        for severity, n in per_router.items():
            by_severity[severity.value] += n
    latest = db.session.execute(
        select(Alert.id, Alert.severity, Alert.state, Alert.message, Alert.target, Alert.opened_at, Alert.started_at,
               Router.name.label("router"), AlertRule.name.label("rule"))
        .join(AlertRule, AlertRule.id == Alert.rule_id).outerjoin(Router, Router.id == Alert.router_id)
        .where(Alert.state.in_(AlertState.active())).order_by(Alert.id.desc()).limit(LATEST_ALERTS)).all()
    return {"total": sum(by_severity.values()), "by_severity": by_severity, "latest": latest}


def _pipeline(fleet: dashboard_fleet.Fleet, now: datetime) -> dict:
    """Queue depths, dead letters, the oldest unfinished command's age and the workers seen."""
    dead = db.session.scalar(select(func.count()).select_from(RouterCommand).where(RouterCommand.state == CommandState.dead))
    oldest = fleet.oldest_backlog_at
    return {"depths": pool_monitor.queue_depths(), "workers": pool_monitor.workers(), "dead": int(dead or 0),
            "backlog": fleet.backlog, "oldest_age": None if oldest is None else max(0, int((now - oldest).total_seconds()))}


def operator(now: datetime, tz: ZoneInfo | str) -> dict:
    """The operator's dashboard at `now` in the operator's timezone."""
    counts = dashboard_fleet.alert_counts()
    fleet = dashboard_fleet.fleet(now, counts)
    win = dashboard_sales.window(now, tz)
    return {"fleet": fleet, "alerts": _alerts(counts), "pipeline": _pipeline(fleet, now),
            "sales": dashboard_sales.voucher_sales(win), "billing": dashboard_sales.billing_today(win),
            "offline_after": dashboard_fleet.offline_after()}


def reseller(user: User, now: datetime, tz: ZoneInfo | str) -> dict:
    """A reseller's own dashboard: balance, unsold stock by plan and their sales (every query filtered to them)."""
    win = dashboard_sales.window(now, tz)
    return {"balance": resellers.balances_by_user([user.id])[user.id], "stock": dashboard_sales.reseller_stock(user.id),
            "sales": dashboard_sales.voucher_sales(win, reseller_id=user.id)}


def recent_activity(limit: int = 8) -> list:
    """The latest audit entries with their actor (admins only: the view decides)."""
    stmt = select(AuditEntry.at, AuditEntry.action, AuditEntry.target, User.username).outerjoin(
        User, User.id == AuditEntry.actor_id)
    return db.session.execute(stmt.order_by(AuditEntry.id.desc()).limit(limit)).all()
