"""The alert engine: rules evaluated over the latest samples, the pipeline and the business.

Contract used by others:
- `evaluate_router(router_id, now=None) -> int`: the poll job calls it right after it writes a router's samples
  (flush only): metric, interface_down, link_flap and traffic_spike rules, and the router's offline alert
  (a poll that saw the router resolves it).
- `evaluate_global(now=None) -> int`: the EVALUATE_ALERTS job (every 10 s): offline routers (set-based over the
  fleet: one query of routers, one Redis round trip for circuits, one of live alerts per rule), pipeline and
  business rules, suppression review and escalation. Returns how many alerts changed state.
- `acknowledge(actor, alert_id, note) -> Alert` and `resolve(actor, alert_id, note) -> Alert`: the alert centre's
  actions (ServiceError on a bad state, a note over NOTE_MAX, or a reseller), audited, flush only.
- `deliveries(alert_id) -> list[Notification]`: the alert's delivery log (channel, recipient, state, attempts,
  last_error, sent_at), oldest first.

What others can read on `Alert`: state pending (condition seen, `for_seconds` not yet run out: not shown as open) →
open → acknowledged (acked_by_id, acked_at, ack_note) → resolved (resolved_at; resolved_by_id when a person did it,
open_key NULL); severity warning/critical (changes are AlertEvent "severity"); value and message of the last
evaluation; target "" (the router or the whole system), "iface:<name>" or "reseller:<id>"; suppressed "" or
"maintenance" / "dependency" / "flapping" (still open, nothing sent); escalated_at once escalated. AlertEvent kinds:
opened, severity, suppressed, unsuppressed, escalated, acknowledged, resolved.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime

from sqlalchemy import or_, select

from isp.extensions import db
from isp.models import Alert, AlertKind, AlertRule, AlertState, Notification, Role, Router, RouterInterface, User
from isp.models.base import utcnow
from isp.routeros import status
from isp.services import alert_checks, alert_engine, alert_notify, alert_suppress, audit
from isp.services.errors import ServiceError

log = logging.getLogger(__name__)
A = AlertState
NOTE_MAX = 1000


def _rules(kinds: tuple[AlertKind, ...]) -> list[AlertRule]:
    return list(db.session.scalars(select(AlertRule).where(AlertRule.enabled.is_(True), AlertRule.kind.in_(kinds))
                                   .order_by(AlertRule.id)))


def evaluate_router(router_id: int, now: datetime | None = None) -> int:
    """Evaluate the router-scoped rules for one router from its latest samples; returns the alerts changed.

    A bounded number of reads whatever the rule count: the rules, the router's live alerts, its latest sample,
    its interfaces, one baseline query (traffic spike) and one Redis round trip (link flaps). Runs in a SAVEPOINT:
    a failure here is logged and rolled back alone, so the poll's samples are kept all the same.
    """
    try:
        with db.session.begin_nested():
            return _evaluate_router(router_id, now or utcnow())
    except Exception:  # the poll's own writes must survive a bad rule or a bug here
        log.exception("alert evaluation of router %s failed", router_id)
        return 0


def _evaluate_router(router_id: int, now: datetime) -> int:
    router = db.session.get(Router, router_id)
    if router is None:
        return 0
    changes = alert_engine.Changes()
    rules = [r for r in _rules((*alert_checks.ROUTER_KINDS, AlertKind.offline))
             if router.enabled and alert_checks.in_scope(r, router.id, router.site)]
    by_rule: dict[int, dict] = defaultdict(dict)
    for alert in db.session.scalars(select(Alert).where(Alert.router_id == router.id, Alert.open_key.is_not(None))):
        by_rule[alert.rule_id][(alert.router_id, alert.target)] = alert
    watched = {r.id for r in rules}
    strays = [a for rule_id, found in by_rule.items() if rule_id not in watched for a in found.values()]
    if strays:  # their rule was disabled or no longer covers this router (router-wide kinds only)
        kinds = dict(db.session.execute(select(AlertRule.id, AlertRule.kind).where(
            AlertRule.id.in_(sorted({a.rule_id for a in strays})))).tuples().all())
        alert_engine.retire([a for a in strays if kinds.get(a.rule_id) in (*alert_checks.ROUTER_KINDS, AlertKind.offline)],
                            now, "the rule no longer covers this router", changes)
    sample = alert_checks.latest_sample(router.id) if any(r.kind == AlertKind.metric for r in rules) else None
    interfaces = list(db.session.scalars(select(RouterInterface).where(RouterInterface.router_id == router.id))) if any(
        r.kind in alert_checks.ROUTER_KINDS[1:] for r in rules) else []
    for rule in rules:
        current = by_rule.get(rule.id, {})
        if rule.kind == AlertKind.metric:
            seen = alert_checks.metric(rule, router, sample)
        elif rule.kind == AlertKind.interface_down:
            seen = alert_checks.interface_down(rule, router, interfaces)
        elif rule.kind == AlertKind.link_flap:
            seen = alert_checks.link_flap(rule, router, interfaces, now)
        elif rule.kind == AlertKind.traffic_spike:
            seen = alert_checks.traffic_spike(rule, router, interfaces, now)
        else:  # offline: only ever clears here (the poll just reached the router); raising is evaluate_global's
            if router.last_seen_at is None or router.last_error or not current:
                continue
            seen = {}
        alert_engine.apply(rule, seen, {router.id}, now, changes, current)
    return alert_engine.finish(changes, now)


def _sweep(now: datetime, changes: alert_engine.Changes) -> None:
    """Retire live alerts of disabled rules and of disabled routers (one query)."""
    stale = list(db.session.scalars(select(Alert).join(AlertRule, AlertRule.id == Alert.rule_id)
                                    .outerjoin(Router, Router.id == Alert.router_id).where(
        Alert.open_key.is_not(None), or_(AlertRule.enabled.is_(False), Router.enabled.is_(False)))))
    if stale:
        alert_engine.retire(stale, now, "its rule or router was disabled", changes)


def evaluate_global(now: datetime | None = None) -> int:
    """Evaluate every rule that is not fed by one router's poll, then suppression and escalation."""
    now = now or utcnow()
    changes = alert_engine.Changes()
    _sweep(now, changes)
    offline_rules = _rules((AlertKind.offline,))
    if offline_rules:
        routers = db.session.execute(select(Router.id, Router.name, Router.site, Router.last_seen_at,
                                            Router.created_at).where(Router.enabled.is_(True))).all()
        circuits = status.circuits([r[0] for r in routers]) if routers else {}
        for rule in offline_rules:
            seen = alert_checks.offline(rule, routers, circuits, now)
            # universe None: live alerts of routers out of scope or disabled since are resolved too
            alert_engine.apply(rule, seen, None, now, changes)
    for rule in _rules(tuple(alert_checks.GLOBAL)):
        alert_engine.apply(rule, alert_checks.GLOBAL[rule.kind](rule, now), None, now, changes)
    changed = alert_engine.finish(changes, now)
    changed += alert_suppress.review(now)
    changed += alert_suppress.escalate(now)
    db.session.flush()
    return changed


def _check(actor: User, alert_id: int, note: str, verb: str) -> Alert:
    if actor is None or actor.role == Role.reseller:
        raise ServiceError(f"Only staff can {verb} alerts.")
    if len(note or "") > NOTE_MAX:
        raise ServiceError(f"Note: at most {NOTE_MAX} characters.", field="note")
    alert = db.session.get(Alert, alert_id)
    if alert is None:
        raise ServiceError("No such alert.")
    return alert


def acknowledge(actor: User, alert_id: int, note: str = "") -> Alert:
    """Acknowledge an open alert with a note: escalation stops; it still resolves by itself. Audited, flush only."""
    alert = _check(actor, alert_id, note, "acknowledge")
    if alert.state != A.open:
        raise ServiceError(f"A {alert.state.value} alert cannot be acknowledged.")
    now = utcnow()
    alert.state, alert.acked_by_id, alert.acked_at, alert.ack_note = A.acknowledged, actor.id, now, (note or "").strip()
    alert_engine.event(alert, "acknowledged", now, alert.ack_note, actor.id)
    audit.record(actor, "alerts.acknowledge", f"alert {alert.id}", alert.ack_note[:200])
    db.session.flush()
    return alert


def resolve(actor: User, alert_id: int, note: str = "") -> Alert:
    """Resolve an open or acknowledged alert by hand (it opens again if the condition still holds).
    A recovery notice goes out as when it resolves by itself. Audited, flush only."""
    alert = _check(actor, alert_id, note, "resolve")
    if alert.state not in A.active():
        raise ServiceError(f"A {alert.state.value} alert cannot be resolved.")
    now = utcnow()
    alert.state, alert.resolved_at, alert.resolved_by_id, alert.open_key = A.resolved, now, actor.id, None
    alert_engine.event(alert, "resolved", now, (note or "").strip() or "resolved by hand", actor.id)
    audit.record(actor, "alerts.resolve", f"alert {alert.id}", (note or "").strip()[:200])
    rule = db.session.get(AlertRule, alert.rule_id)
    if rule.notify_recovery and alert.id in alert_notify.notified([alert.id]):
        alert_notify.queue([(alert, "resolved")], now)
    db.session.flush()
    return alert


def deliveries(alert_id: int) -> list[Notification]:
    """The alert's delivery log, oldest first."""
    return alert_notify.deliveries(alert_id)
