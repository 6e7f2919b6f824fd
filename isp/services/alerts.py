"""The alert engine: rules evaluated over the latest samples, the pipeline and the business.

Contract used by others:
- `evaluate_routers(router_ids, now=None) -> int`: the poll job calls it right after it writes a batch's samples
  (flush only, set-based over the batch): metric, interface_down, link_flap and traffic_spike rules, and the routers'
  offline alerts (a poll that saw the router resolves it). `evaluate_router(router_id, now=None)` is a batch of one.
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
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm.util import identity_key

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
    """Evaluate the router-scoped rules for one router from its latest samples (evaluate_routers of one)."""
    return evaluate_routers([router_id], now)


def evaluate_routers(router_ids: list[int], now: datetime | None = None) -> int:
    """Evaluate the router-scoped rules for a batch of routers just polled; returns the alerts changed.

    A bounded number of reads whatever the batch and rule counts: the routers, the rules, the batch's live alerts,
    their latest samples, their interfaces, one baseline query per traffic-spike rule and one Redis round trip per
    link-flap rule. Runs in a SAVEPOINT: a failure here is logged and rolled back alone, so the poll's samples are
    kept all the same.
    """
    if not router_ids:
        return 0
    try:
        with db.session.begin_nested():
            return _evaluate_routers(sorted(set(router_ids)), now or utcnow())
    except Exception:  # the poll's own writes must survive a bad rule or a bug here
        log.exception("alert evaluation of routers %s failed", router_ids)
        return 0


def _evaluate_routers(router_ids: list[int], now: datetime) -> int:
    loaded = {i: db.session.identity_map.get(identity_key(Router, i)) for i in router_ids}  # the poll's rows: no SQL
    missing = [i for i, r in loaded.items() if r is None]
    if missing:
        loaded.update({r.id: r for r in db.session.scalars(select(Router).where(Router.id.in_(missing)))})
    routers = {i: r for i, r in loaded.items() if r is not None}
    if not routers:
        return 0
    changes = alert_engine.Changes()
    all_rules = _rules((*alert_checks.ROUTER_KINDS, AlertKind.offline))
    # Per rule, the batch's routers it covers (a disabled router is covered by none).
    covered = {rule.id: [r for r in routers.values() if r.enabled and alert_checks.in_scope(rule, r.id, r.site)]
               for rule in all_rules}
    rules = [rule for rule in all_rules if covered[rule.id]]
    by_rule: dict[int, dict] = defaultdict(dict)
    for alert in db.session.scalars(select(Alert).where(Alert.router_id.in_(sorted(routers)),
                                                        Alert.open_key.is_not(None))):
        by_rule[alert.rule_id][(alert.router_id, alert.target)] = alert
    watched = {(rule.id, r.id) for rule in rules for r in covered[rule.id]}
    strays = [a for found in by_rule.values() for a in found.values() if (a.rule_id, a.router_id) not in watched]
    if strays:  # their rule was disabled or no longer covers this router (router-wide kinds only)
        kinds = dict(db.session.execute(select(AlertRule.id, AlertRule.kind).where(
            AlertRule.id.in_(sorted({a.rule_id for a in strays})))).tuples().all())
        alert_engine.retire([a for a in strays if kinds.get(a.rule_id) in (*alert_checks.ROUTER_KINDS, AlertKind.offline)],
                            now, "the rule no longer covers this router", changes)
    samples = alert_checks.latest_samples(sorted(routers)) if any(r.kind == AlertKind.metric for r in rules) else {}
    interfaces: dict[int, list[RouterInterface]] = defaultdict(list)
    if any(r.kind in alert_checks.ROUTER_KINDS[1:] for r in rules):
        for iface in db.session.scalars(select(RouterInterface).where(RouterInterface.router_id.in_(sorted(routers)))):
            interfaces[iface.router_id].append(iface)
    for rule in rules:
        scope = covered[rule.id]
        if rule.kind == AlertKind.offline:
            # offline only ever clears here (the poll just reached the router); raising is evaluate_global's
            scope = [r for r in scope if r.last_seen_at is not None and not r.last_error]
        universe = {r.id for r in scope}
        current = {k: a for k, a in by_rule.get(rule.id, {}).items() if k[0] in universe}
        seen: alert_checks.Obs = {}
        if rule.kind == AlertKind.metric:
            for router in scope:
                seen.update(alert_checks.metric(rule, router, samples.get(router.id)))
        elif rule.kind == AlertKind.interface_down:
            for router in scope:
                seen.update(alert_checks.interface_down(rule, router, interfaces[router.id]))
        elif rule.kind == AlertKind.link_flap:
            seen = alert_checks.link_flap_many(rule, scope, interfaces, now)
        elif rule.kind == AlertKind.traffic_spike:
            seen = alert_checks.traffic_spike_many(rule, scope, interfaces, now)
        elif not current:
            continue
        alert_engine.apply(rule, seen, universe, now, changes, current)
    return alert_engine.finish(changes, now)


def _sweep(now: datetime, changes: alert_engine.Changes) -> None:
    """Retire live alerts of disabled rules and of disabled routers (one query)."""
    stale = list(db.session.scalars(select(Alert).join(AlertRule, AlertRule.id == Alert.rule_id)
                                    .outerjoin(Router, Router.id == Alert.router_id).where(
        Alert.open_key.is_not(None), or_(AlertRule.enabled.is_(False), Router.enabled.is_(False)))))
    if stale:
        alert_engine.retire(stale, now, "its rule or router was disabled", changes)


def evaluate_global(now: datetime | None = None) -> int:
    """Evaluate every rule that is not fed by one router's poll, then suppression and escalation.

    Each rule (its check and apply), the review and the escalation run in their own SAVEPOINT: one failing is
    logged and rolled back alone, the rest of the fleet's alerting goes on."""
    now = now or utcnow()
    changes = alert_engine.Changes()
    _sweep(now, changes)
    offline_rules = _rules((AlertKind.offline,))
    if offline_rules:
        routers = db.session.execute(select(Router.id, Router.name, Router.site, Router.last_seen_at,
                                            Router.created_at).where(Router.enabled.is_(True))).all()
        circuits = status.circuits([r[0] for r in routers]) if routers else {}
        for rule in offline_rules:
            # universe None: live alerts of routers out of scope or disabled since are resolved too
            _guarded(rule, changes, lambda rule, part: alert_engine.apply(
                rule, alert_checks.offline(rule, routers, circuits, now), None, now, part))
    for rule in _rules(tuple(alert_checks.GLOBAL)):
        _guarded(rule, changes, lambda rule, part: alert_engine.apply(
            rule, alert_checks.GLOBAL[rule.kind](rule, now), None, now, part))
    changed = alert_engine.finish(changes, now)
    for step in (alert_suppress.review, alert_suppress.escalate):
        try:
            with db.session.begin_nested():
                changed += step(now)
        except Exception:  # suppression or escalation failing must not stop the openings above
            log.exception("alert %s failed", step.__name__)
    db.session.flush()
    return changed


def _guarded(rule: AlertRule, changes: alert_engine.Changes,
             run: Callable[[AlertRule, alert_engine.Changes], None]) -> None:
    """run(rule, part) in a SAVEPOINT with its own Changes, merged into `changes` only when it succeeds."""
    part = alert_engine.Changes()
    try:
        with db.session.begin_nested():
            run(rule, part)
    except Exception:  # one bad rule (or a bug in its check) must not stop the others
        log.exception("alert rule %s (%s) failed", rule.id, rule.kind.value)
        return
    changes.opened += part.opened
    changes.raised += part.raised
    changes.resolved += part.resolved
    changes.other += part.other


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
    _claim(alert, (A.open,), "acknowledged", state=A.acknowledged, acked_by_id=actor.id, acked_at=now,
           ack_note=(note or "").strip())
    alert_engine.event(alert, "acknowledged", now, alert.ack_note, actor.id)
    audit.record(actor, "alerts.acknowledge", f"alert {alert.id}", alert.ack_note[:200], obj=alert,
                 changes={"state": [A.open.value, A.acknowledged.value]})
    db.session.flush()
    return alert


def resolve(actor: User, alert_id: int, note: str = "") -> Alert:
    """Resolve an open or acknowledged alert by hand (it opens again if the condition still holds).
    A recovery notice goes out as when it resolves by itself. Audited, flush only."""
    alert = _check(actor, alert_id, note, "resolve")
    if alert.state not in A.active():
        raise ServiceError(f"A {alert.state.value} alert cannot be resolved.")
    now, was = utcnow(), alert.state.value
    _claim(alert, tuple(A.active()), "resolved", state=A.resolved, resolved_at=now, resolved_by_id=actor.id,
           open_key=None)
    alert_engine.event(alert, "resolved", now, (note or "").strip() or "resolved by hand", actor.id)
    audit.record(actor, "alerts.resolve", f"alert {alert.id}", (note or "").strip()[:200], obj=alert,
                 changes={"state": [was, A.resolved.value]})
    rule = db.session.get(AlertRule, alert.rule_id)
    if rule.notify_recovery and alert.id in alert_notify.notified([alert.id]):
        alert_notify.queue([(alert, "resolved")], now)
    db.session.flush()
    return alert


def _claim(alert: Alert, states: tuple[AlertState, ...], verb: str, **values: object) -> None:
    """Change a live alert only if it is still live and in one of `states` (a conditional UPDATE, judged on the
    committed row): the engine may have resolved it since the operator's page (or this session) read it, and
    acknowledging that row would leave an acknowledged alert without its open_key, live for ever.
    ServiceError when it changed meanwhile; the alert is reloaded either way."""
    done = db.session.execute(update(Alert).where(
        Alert.id == alert.id, Alert.state.in_(states), Alert.open_key.is_not(None)).values(**values)
        .execution_options(synchronize_session=False)).rowcount
    db.session.refresh(alert)
    if done != 1:
        raise ServiceError(f"This alert was {alert.state.value} meanwhile and cannot be {verb} now; reload the page.")


def deliveries(alert_id: int) -> list[Notification]:
    """The alert's delivery log, oldest first."""
    return alert_notify.deliveries(alert_id)
