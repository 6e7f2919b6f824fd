"""What each alert rule kind measures: observations {(router id or None, target): (value, message)} for the engine.

Router kinds read what the poll wrote (RouterSample, RouterInterface, hourly InterfaceRollup); fleet and
business kinds read the outbox, vouchers, radpostauth and subscriptions, each in one or two set-based queries.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import case, func, select

from isp.extensions import db
from isp.models import (
    AlertKind,
    AlertRule,
    AlertScope,
    CommandState,
    InterfaceRollup,
    Role,
    Router,
    RouterCommand,
    RouterInterface,
    RouterSample,
    Subscription,
    SubscriptionState,
    User,
    Voucher,
    VoucherState,
)
from isp.services import metrics_store

Obs = dict[tuple[int | None, str], tuple[float | None, str]]
ROUTER_KINDS = (AlertKind.metric, AlertKind.interface_down, AlertKind.link_flap, AlertKind.traffic_spike)
UNITS = {"cpu": "%", "memory": "%", "temperature": " °C", "voltage": " V"}
BASELINE_DAYS = 7


def in_scope(rule: AlertRule, router_id: int, site: str) -> bool:
    """Whether a rule covers a router (all, its site, or it)."""
    if rule.scope == AlertScope.router:
        return rule.router_id == router_id
    if rule.scope == AlertScope.site:
        return bool(rule.site) and rule.site == site
    return True


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _threshold_text(rule: AlertRule) -> str:
    parts = [f"{name} {'≤' if rule.below else '≥'} {_number(v)}" for name, v in (("warning", rule.warning),
                                                                               ("critical", rule.critical)) if v is not None]
    return f" ({', '.join(parts)})" if parts else ""


# -- one router, after its poll --------------------------------------------------------------------------------


def latest_sample(router_id: int) -> RouterSample | None:
    return latest_samples([router_id]).get(router_id)


def latest_samples(router_ids: list[int]) -> dict[int, RouterSample]:
    """Each router's newest sample (one query: the newest ts per router from the primary key, then those rows)."""
    if not router_ids:
        return {}
    newest = (select(RouterSample.router_id, func.max(RouterSample.ts).label("ts"))
              .where(RouterSample.router_id.in_(sorted(router_ids))).group_by(RouterSample.router_id).subquery())
    rows = db.session.scalars(select(RouterSample).join(
        newest, (RouterSample.router_id == newest.c.router_id) & (RouterSample.ts == newest.c.ts)))
    return {row.router_id: row for row in rows}


def metric(rule: AlertRule, router: Router, sample: RouterSample | None) -> Obs:
    """A gauge of the latest sample. Without a value (no such sensor, or the read of it failed this time) the
    observation is (None, ""): the engine holds the router's alert as it is rather than taking it as cleared."""
    value = getattr(sample, rule.metric, None) if sample is not None and rule.metric in UNITS else None
    if value is None:
        return {(router.id, ""): (None, "")}
    return {(router.id, ""): (float(value), f"{rule.metric} {_number(value)}{UNITS[rule.metric]} on {router.name}"
                                           f"{_threshold_text(rule)}")}


def interface_down(rule: AlertRule, router: Router, interfaces: list[RouterInterface]) -> Obs:
    """Present, enabled interfaces that had been running and are not now (one that never ran is not 'down').

    "Had run" means the poll has seen it running: it went down once (link_downs) or `last_change_at` is set, which
    the ingest sets only when it first sees the link running or on a real running transition (a port unplugged since
    the router's first poll keeps it NULL and is never "down")."""
    found = {}
    for iface in interfaces:
        if not iface.present or iface.disabled:
            continue
        had_run = iface.link_downs > 0 or iface.last_change_at is not None
        down = not iface.running and had_run
        found[(router.id, f"iface:{iface.name}")] = (1.0 if down else 0.0, f"{iface.name} on {router.name} is down")
    return found


def link_flap(rule: AlertRule, router: Router, interfaces: list[RouterInterface], now: datetime) -> Obs:
    return link_flap_many(rule, [router], {router.id: interfaces}, now)


def link_flap_many(rule: AlertRule, routers: list[Router], interfaces: dict[int, list[RouterInterface]],
                   now: datetime) -> Obs:
    """Link downs per interface within params.window seconds (default 600), for many routers in one Redis round trip."""
    window = int(rule.params.get("window") or 600)
    present = [(r, i) for r in routers for i in interfaces.get(r.id, []) if i.present and not i.disabled]
    counts = metrics_store.link_downs_since([i.id for _, i in present], (now - timedelta(seconds=window)).timestamp())
    return {(r.id, f"iface:{i.name}"): (float(counts.get(i.id, 0)),
                                        f"{i.name} on {r.name} went down {counts.get(i.id, 0)} times "
                                        f"in {window // 60} min") for r, i in present}


def traffic_spike(rule: AlertRule, router: Router, interfaces: list[RouterInterface], now: datetime) -> Obs:
    return traffic_spike_many(rule, [router], {router.id: interfaces}, now)


def traffic_spike_many(rule: AlertRule, routers: list[Router], interfaces: dict[int, list[RouterInterface]],
                       now: datetime) -> Obs:
    """Latest rate over the same hour-of-day's average in the last 7 days' hourly rollups, per direction
    (many routers in one query).

    Skipped (no observation) below params.min_bps or with fewer than params.min_days (default 3) baseline hours.
    """
    present = {i.id: (r, i) for r in routers for i in interfaces.get(r.id, []) if i.present and not i.disabled}
    if not present:
        return {}
    min_bps = float(rule.params.get("min_bps") or 0)
    min_days = int(rule.params.get("min_days") or 3)
    hour = int(now.timestamp()) // 3600 * 3600
    buckets = [hour - day * 86400 for day in range(1, BASELINE_DAYS + 1)]
    rows = db.session.execute(select(InterfaceRollup.interface_id, func.count(), func.avg(InterfaceRollup.rx_avg),
                                     func.avg(InterfaceRollup.tx_avg)).where(
        InterfaceRollup.interface_id.in_(sorted(present)), InterfaceRollup.step == 3600,
        InterfaceRollup.ts.in_(buckets)).group_by(InterfaceRollup.interface_id)).all()
    found = {}
    for iface_id, days, rx_base, tx_base in rows:
        router, iface = present[iface_id]
        if days < min_days:
            continue
        factors = [rate / float(base) for rate, base in ((iface.rx_bps, rx_base), (iface.tx_bps, tx_base))
                   if rate and rate >= min_bps and base and float(base) > 0]
        factor = max(factors, default=0.0)
        found[(router.id, f"iface:{iface.name}")] = (
            round(factor, 2), f"{iface.name} on {router.name} at {factor:.1f}× its usual rate for this hour")
    return found


# -- the fleet and the business, every 10 s ---------------------------------------------------------------------


def offline(rule: AlertRule, routers: Iterable[tuple[int, str, str, datetime | None, datetime]],
            circuits: dict[int, dict], now: datetime) -> Obs:
    """Routers not seen for params.seconds (default 45), or whose circuit is open."""
    seconds = int(rule.params.get("seconds") or 45)
    found = {}
    for router_id, name, site, seen, created in routers:
        if not in_scope(rule, router_id, site):
            continue
        since = seen or created
        age = (now - since).total_seconds() if since else 0
        tripped = (circuits.get(router_id) or {}).get("state") == "open"
        down = age >= seconds or tripped
        why = f"not seen for {int(age)} s" if age >= seconds else "its circuit is open"
        found[(router_id, "")] = (1.0 if down else 0.0, f"{name} is offline: {why}" if down else "")
    return found


def dead_letters(rule: AlertRule, now: datetime) -> Obs:
    count = db.session.scalar(select(func.count()).select_from(RouterCommand).where(
        RouterCommand.state == CommandState.dead)) or 0
    return {(None, ""): (float(count), f"{count} router commands are dead letters{_threshold_text(rule)}")}


def backlog(rule: AlertRule, now: datetime) -> Obs:
    oldest = db.session.scalar(select(func.min(RouterCommand.created_at)).where(
        RouterCommand.state.in_(CommandState.unfinished())))
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=now.tzinfo)
    age = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
    return {(None, ""): (round(age), f"the oldest unfinished router command waits for {int(age)} s"
                                     f"{_threshold_text(rule)}")}


def reseller_stock(rule: AlertRule, now: datetime) -> Obs:
    """Unsold (unused) vouchers per active reseller who has ever held vouchers."""
    rows = db.session.execute(select(
        User.id, User.username, func.sum(case((Voucher.state == VoucherState.unused, 1), else_=0)),
    ).join(Voucher, Voucher.reseller_id == User.id).where(User.role == Role.reseller, User.active.is_(True))
        .group_by(User.id, User.username)).all()
    return {(None, f"reseller:{uid}"): (float(unused or 0), f"reseller {name} has {int(unused or 0)} unsold vouchers"
                                                             f"{_threshold_text(rule)}")
            for uid, name, unused in rows}


def radius_failures(rule: AlertRule, now: datetime) -> Obs:
    """RADIUS rejects in the last minute (within the failures list's window of radpostauth)."""
    from isp.radius.models import RadPostAuth
    from isp.services import radius_sessions

    last = db.session.scalar(select(func.max(RadPostAuth.id))) or 0
    count = db.session.scalar(select(func.count()).select_from(RadPostAuth).where(
        RadPostAuth.id > last - radius_sessions.FAILURE_WINDOW, RadPostAuth.reply == radius_sessions.REJECT,
        RadPostAuth.authdate >= radius_sessions.to_radius(now - timedelta(minutes=1)))) or 0
    return {(None, ""): (float(count), f"{count} RADIUS logins rejected in the last minute{_threshold_text(rule)}")}


def suspensions(rule: AlertRule, now: datetime) -> Obs:
    """Services suspended in the last hour (still suspended)."""
    count = db.session.scalar(select(func.count()).select_from(Subscription).where(
        Subscription.state == SubscriptionState.suspended, Subscription.state_changed_at >= now - timedelta(hours=1))) or 0
    return {(None, ""): (float(count), f"{count} services suspended in the last hour{_threshold_text(rule)}")}


GLOBAL = {AlertKind.dead_letters: dead_letters, AlertKind.backlog: backlog, AlertKind.reseller_stock: reseller_stock,
          AlertKind.radius_failures: radius_failures, AlertKind.suspensions: suspensions}
