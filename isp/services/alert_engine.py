"""The alert state machine: observations of one rule in, alerts opened, graded, escalated and resolved.

A check measures a rule over a set of routers (its universe) and hands `apply()` one observation per target:
(router id or None, target) -> (value, message). `apply()` grades each value against the rule's thresholds
(with hysteresis against the alert's current severity), then per target:

- bad and no live alert: a `pending` alert (when the rule has `for_seconds`) or an `open` one;
- bad and pending: opens once the condition has held `for_seconds`;
- bad and open/acknowledged: value refreshed, a severity change recorded (and notified when it rises);
- not bad (or not observed) and pending: the pending row goes away silently;
- not bad and open/acknowledged: resolved (recovery notice when the rule asks and the opening was sent);
- observed with value None (the reading is missing this time, e.g. /system/health trapped): held, nothing changes.

A pending alert's delay counts only a condition seen without a gap: when it was last seen more than GAP_POLLS
evaluation intervals ago, its `started_at` starts again from now.

Live alerts are deduplicated by `open_key` (unique): a racing evaluator's insert fails in its SAVEPOINT and
this one carries on. What happens after an opening (flap, maintenance and dependency suppression, the
notifications) is done in one batch by `finish()`, so a parent and its child opening in one pass see each other.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from isp.extensions import db
from isp.models import Alert, AlertEvent, AlertKind, AlertRule, AlertSeverity, AlertState
from isp.services import alert_notify, alert_suppress

A = AlertState
SEV = AlertSeverity
# Kinds whose value is 1 (bad) / 0 and whose severity is fixed (params.severity overrides).
FIXED = {AlertKind.offline: SEV.critical, AlertKind.interface_down: SEV.warning}
RANK = {None: 0, SEV.warning: 1, SEV.critical: 2}
GLOBAL_EVERY = 10  # seconds between EVALUATE_ALERTS runs (isp/jobs/schedule.py)
GAP_POLLS = 3      # a pending condition not seen for this many intervals starts its delay again


def gap_limit() -> timedelta:
    """How long a pending condition may go unseen and still count as held (GAP_POLLS of the slower cadence)."""
    interval = max(int(current_app.config.get("MONITOR_INTERVAL") or 10), GLOBAL_EVERY)
    return timedelta(seconds=GAP_POLLS * interval)


@dataclass
class Changes:
    """What one evaluation pass changed; `finish()` acts on the openings and counts it all."""

    opened: list[Alert] = field(default_factory=list)
    raised: list[Alert] = field(default_factory=list)     # severity went up on an open alert
    resolved: list[Alert] = field(default_factory=list)
    other: int = 0                                        # pending created/dropped, severity down

    @property
    def count(self) -> int:
        return len(self.opened) + len(self.raised) + len(self.resolved) + self.other


def open_key(rule_id: int, router_id: int | None, target: str) -> str:
    return f"{rule_id}:{router_id or 0}:{target}"[:191]


def grade(rule: AlertRule, value: float | None, current: AlertSeverity | None = None) -> AlertSeverity | None:
    """The severity a value earns (None: fine). A level already reached holds until the value is past its
    threshold by the hysteresis, so a value hovering at the threshold does not open and close in turn."""
    if value is None:
        return None
    if rule.kind in FIXED:
        if not value:
            return None
        wanted = (rule.params.get("severity") or "").strip()
        return SEV[wanted] if wanted in SEV.__members__ else FIXED[rule.kind]
    hysteresis = abs(rule.hysteresis or 0.0)
    for level, threshold in ((SEV.critical, rule.critical), (SEV.warning, rule.warning)):
        if threshold is None:
            continue
        slack = hysteresis if RANK[current] >= RANK[level] else 0.0
        if (value <= threshold + slack) if rule.below else (value >= threshold - slack):
            return level
    return None


def event(alert: Alert, kind: str, now: datetime, note: str = "", actor_id: int | None = None) -> None:
    """A line of the alert's history."""
    db.session.add(AlertEvent(alert_id=alert.id, at=now, kind=kind, note=note[:2000], actor_id=actor_id))


def live(rule: AlertRule, router_ids: set[int] | None) -> dict[tuple[int | None, str], Alert]:
    """The rule's live alerts (pending, open, acknowledged), all or those of some routers (one query)."""
    query = select(Alert).where(Alert.rule_id == rule.id, Alert.open_key.is_not(None))
    if router_ids is not None:
        if not router_ids:
            return {}
        query = query.where(Alert.router_id.in_(sorted(router_ids)))
    return {(a.router_id, a.target): a for a in db.session.scalars(query)}


def _create(rule: AlertRule, router_id: int | None, target: str, value: float | None, severity: AlertSeverity,
            message: str, now: datetime) -> Alert | None:
    opening = not rule.for_seconds
    alert = Alert(rule_id=rule.id, router_id=router_id, target=target, open_key=open_key(rule.id, router_id, target),
                  state=A.open if opening else A.pending, severity=severity, value=value, message=message[:255],
                  started_at=now, opened_at=now if opening else None, last_seen_at=now, suppressed="")
    try:
        with db.session.begin_nested():
            db.session.add(alert)
    except IntegrityError:  # another evaluator holds this key: its alert is the one
        return None
    return alert


def _resolve(alert: Alert, now: datetime, changes: Changes) -> None:
    alert.state, alert.resolved_at, alert.open_key = A.resolved, now, None
    event(alert, "resolved", now, "condition cleared")
    changes.resolved.append(alert)


def retire(alerts: list[Alert], now: datetime, why: str, changes: Changes) -> None:
    """Close live alerts nobody evaluates any more (rule disabled or out of scope, router disabled): pending ones
    go away, the others resolve with the reason and without a recovery notice (the condition was not seen to clear)."""
    for alert in alerts:
        if alert.state == A.pending:
            db.session.delete(alert)
        else:
            alert.state, alert.resolved_at, alert.open_key = A.resolved, now, None
            event(alert, "resolved", now, why)
        changes.other += 1


def apply(rule: AlertRule, observations: dict[tuple[int | None, str], tuple[float | None, str]],
          router_ids: set[int] | None, now: datetime, changes: Changes,
          current: dict[tuple[int | None, str], Alert] | None = None) -> None:
    """Bring the rule's alerts in line with the observations; live alerts of the universe not observed clear.
    `current`: the rule's live alerts in that universe when the caller has read them already."""
    current = live(rule, router_ids) if current is None else current
    drop: list[int] = []
    gap = gap_limit()
    for key in set(current) | set(observations):
        alert = current.get(key)
        value, message = observations.get(key, (None, ""))
        if value is None and key in observations:
            continue  # observed without a value (a reading missing this time): hold, neither cleared nor raised
        severity = grade(rule, value, alert.severity if alert is not None else None)
        if severity is None:
            if alert is None:
                continue
            if alert.state == A.pending:
                drop.append(alert.id)
                changes.other += 1
            else:
                _resolve(alert, now, changes)
            continue
        if alert is None:
            alert = _create(rule, key[0], key[1], value, severity, message, now)
            if alert is None:
                continue
            if alert.state == A.open:
                changes.opened.append(alert)
            else:
                changes.other += 1
            continue
        before = alert.severity
        if alert.state == A.pending and alert.last_seen_at is not None and now - alert.last_seen_at > gap:
            alert.started_at = now  # not seen for a while: the delay counts from this sighting again
        alert.value, alert.last_seen_at, alert.severity = value, now, severity
        if message:
            alert.message = message[:255]
        if alert.state == A.pending:
            if now >= alert.started_at + timedelta(seconds=rule.for_seconds or 0):
                alert.state, alert.opened_at = A.open, now
                changes.opened.append(alert)
        elif severity != before:
            event(alert, "severity", now, f"{before.value} → {severity.value}")
            if RANK[severity] > RANK[before]:
                changes.raised.append(alert)
            else:
                changes.other += 1
    if drop:
        db.session.execute(delete(Alert).where(Alert.id.in_(drop), Alert.state == A.pending),
                           execution_options={"synchronize_session": False})
        for alert in current.values():
            if alert.id in drop:
                db.session.expunge(alert)


def finish(changes: Changes, now: datetime) -> int:
    """After a pass: openings checked for flapping, maintenance and dependency, then notified; returns the count."""
    db.session.flush()
    if changes.opened:
        reasons = alert_suppress.reasons({a.router_id for a in changes.opened if a.router_id}, now)
        flapping = alert_suppress.flapping(changes.opened, now)
        for alert in changes.opened:
            alert.suppressed = reasons.get(alert.router_id, "") or ("flapping" if alert.id in flapping else "")
            event(alert, "opened", now, f"{alert.severity.value}: {alert.message}")
            if alert.suppressed:
                event(alert, "suppressed", now, alert.suppressed)
    notify = [(a, "opened") for a in changes.opened if not a.suppressed]
    notify += [(a, "critical") for a in changes.raised
               if a.severity == SEV.critical and a.state == A.open and not a.suppressed]
    if changes.resolved:
        sent = alert_notify.notified([a.id for a in changes.resolved])
        rules = _rules({a.rule_id for a in changes.resolved})
        notify += [(a, "resolved") for a in changes.resolved if a.id in sent and rules[a.rule_id].notify_recovery]
    if notify:
        alert_notify.queue(notify, now)
    db.session.flush()
    return changes.count


def _rules(ids: set[int]) -> dict[int, AlertRule]:
    return {r.id: r for r in db.session.scalars(select(AlertRule).where(AlertRule.id.in_(sorted(ids))))}

