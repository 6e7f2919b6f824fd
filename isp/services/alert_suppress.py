"""Why an alert's notifications are held back (maintenance, dependency, flapping), and escalation.

`Alert.suppressed` is "" or one reason, first match wins:
- "maintenance": a maintenance window covers the router (by id or by its site) now;
- "dependency": the router's parent is down (the child is unreachable because of it): it has a live `offline`
  alert, or it is already stale itself (see `down_parents`: children are polled in other batches, so a child can
  cross the offline limit a few seconds before its parent), or its offline alert resolved less than
  `dependency_grace()` ago (a child behind it is about to be reached again: no "opened" then "resolved");
- "flapping": the same rule and target opened FLAP_REOPENS times before within FLAP_WINDOW.
A suppressed alert is still open and shown; nothing is sent for it. `review()` (every global pass) lifts a
reason once it no longer holds and then sends the held "opened" notice if the alert is still open.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select

from isp.extensions import db
from isp.models import Alert, AlertEvent, AlertKind, AlertRule, AlertState, MaintenanceWindow, Router
from isp.routeros import status
from isp.services import alert_notify
from isp.sqlutil import chunked

A = AlertState
FLAP_WINDOW = timedelta(minutes=30)
FLAP_REOPENS = 3  # earlier openings within the window that make the next one "flapping"


def _event(alert: Alert, kind: str, now: datetime, note: str = "") -> None:
    db.session.add(AlertEvent(alert_id=alert.id, at=now, kind=kind, note=note))


def dependency_grace() -> timedelta:
    """How long after a parent's offline alert resolves its children's alerts stay held: two polls and a breaker
    cool-down, the time a child behind it needs to be reached again."""
    config = current_app.config
    return timedelta(seconds=2 * int(config.get("MONITOR_INTERVAL") or 10) + float(config.get("BREAKER_COOLDOWN") or 0))


def down_parents(parents: set[int], now: datetime) -> set[int]:
    """The parents to treat as down now (four reads whatever their number): a live offline alert; or stale
    themselves, i.e. not seen for the offline rule's seconds less one poll interval (a child polled a few seconds
    earlier crosses the limit first), a last poll that failed (last_error) or a circuit not closed; or an offline
    alert resolved within dependency_grace()."""
    if not parents:
        return set()
    ids = sorted(parents)
    grace_from = now - dependency_grace()
    down = set(db.session.scalars(select(Alert.router_id).join(AlertRule, AlertRule.id == Alert.rule_id).where(
        AlertRule.kind == AlertKind.offline, Alert.router_id.in_(ids),
        or_(Alert.open_key.is_not(None), Alert.resolved_at >= grace_from))))
    rules = list(db.session.scalars(select(AlertRule).where(AlertRule.kind == AlertKind.offline,
                                                            AlertRule.enabled.is_(True))))
    if not rules:  # no offline rule: nobody is judged offline, so nobody is held behind a parent by staleness
        return down
    seconds = min(int(r.params.get("seconds") or 45) for r in rules)
    stale_before = now - timedelta(seconds=seconds - int(current_app.config.get("MONITOR_INTERVAL") or 10))
    circuits = status.circuits(ids)
    for router_id, seen, created, error in db.session.execute(select(
            Router.id, Router.last_seen_at, Router.created_at, Router.last_error).where(
            Router.id.in_(ids), Router.enabled.is_(True))):
        since = seen or created
        tripped = (circuits.get(router_id) or {}).get("state", "closed") != "closed"
        if error or tripped or (since is not None and since <= stale_before):
            down.add(router_id)
    return down


def reasons(router_ids: set[int], now: datetime) -> dict[int, str]:
    """router id -> "maintenance" or "dependency" for the routers whose alerts are held now (a handful of reads)."""
    if not router_ids:
        return {}
    routers: list[tuple[int, str, int | None]] = []
    for part in chunked(sorted(router_ids)):
        routers.extend(db.session.execute(select(Router.id, Router.site, Router.parent_id).where(Router.id.in_(part))))
    windows = db.session.execute(select(MaintenanceWindow.router_id, MaintenanceWindow.site).where(
        MaintenanceWindow.starts_at <= now, MaintenanceWindow.ends_at > now)).all()
    quiet_routers = {r for r, _ in windows if r}
    quiet_sites = {s for r, s in windows if not r and s}
    down = down_parents({p for _, _, p in routers if p}, now)
    found = {}
    for router_id, site, parent in routers:
        if router_id in quiet_routers or (site and site in quiet_sites):
            found[router_id] = "maintenance"
        elif parent and parent in down:
            found[router_id] = "dependency"
    return found


def flapping(alerts: list[Alert], now: datetime) -> set[int]:
    """Ids of the alerts whose rule and target opened FLAP_REOPENS times before within FLAP_WINDOW (one query)."""
    if not alerts:
        return set()
    ids_by_key: dict[tuple, list[int]] = defaultdict(list)
    for alert_id, rule_id, router_id, target in db.session.execute(select(
            Alert.id, Alert.rule_id, Alert.router_id, Alert.target).where(
            Alert.rule_id.in_(sorted({a.rule_id for a in alerts})), Alert.opened_at >= now - FLAP_WINDOW)):
        ids_by_key[(rule_id, router_id or 0, target)].append(alert_id)
    found = set()
    for alert in alerts:
        earlier = [i for i in ids_by_key[(alert.rule_id, alert.router_id or 0, alert.target)] if i < alert.id]
        if len(earlier) >= FLAP_REOPENS:
            found.add(alert.id)
    return found


def review(now: datetime) -> int:
    """Re-check every live alert's suppression (windows start and end, parents come back, flapping calms down);
    an alert no longer held gets its "opened" notice now. Returns how many changed."""
    alerts = list(db.session.scalars(select(Alert).where(Alert.state.in_(A.active()))))
    if not alerts:
        return 0
    held = reasons({a.router_id for a in alerts if a.router_id}, now)
    still_flapping = flapping([a for a in alerts if a.suppressed == "flapping"], now)
    changed, release = 0, []
    for alert in alerts:
        wanted = held.get(alert.router_id, "") if alert.router_id else ""
        wanted = wanted or ("flapping" if alert.id in still_flapping else "")
        if wanted == alert.suppressed:
            continue
        changed += 1
        before, alert.suppressed = alert.suppressed, wanted
        _event(alert, "suppressed" if wanted else "unsuppressed", now, wanted or f"no longer {before}")
        if not wanted and alert.state == A.open:
            release.append((alert, "opened"))
    if release:
        alert_notify.queue(release, now)
    return changed


def escalate(now: datetime) -> int:
    """Open, unacknowledged, unsuppressed alerts past their rule's escalate_after_minutes (from the opening, or from
    the end of a suppression): escalated once."""
    rows = db.session.execute(select(Alert, AlertRule.escalate_after_minutes).join(
        AlertRule, AlertRule.id == Alert.rule_id).where(
        Alert.state == A.open, Alert.escalated_at.is_(None), Alert.suppressed == "",
        AlertRule.escalate_after_minutes.is_not(None))).all()
    # The clock runs from when the team could first hear of it: the opening, or the end of its suppression.
    released = dict(db.session.execute(select(AlertEvent.alert_id, func.max(AlertEvent.at)).where(
        AlertEvent.alert_id.in_([a.id for a, _ in rows]), AlertEvent.kind == "unsuppressed")
        .group_by(AlertEvent.alert_id)).tuples().all()) if rows else {}
    due = [alert for alert, minutes in rows if alert.opened_at is not None
           and max(alert.opened_at, released.get(alert.id) or alert.opened_at) + timedelta(minutes=minutes) <= now]
    for alert in due:
        alert.escalated_at = now
        _event(alert, "escalated", now, "unacknowledged")
    if due:
        alert_notify.queue([(a, "escalated") for a in due], now)
    return len(due)

