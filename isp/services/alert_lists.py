"""The alert centre's lists: open, acknowledged and resolved alerts filtered in SQL, their counts, CSV rows,
and what an alert's page shows (rule, router, timeline, delivery log). Staff only: alerts are not reseller data."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import aliased

from isp.extensions import db
from isp.models import Alert, AlertEvent, AlertKind, AlertRule, AlertSeverity, AlertState, Notification, Router, User
from isp.services import list_filters, paging
from isp.services.channels import mask

TABS = ("open", "acknowledged", "resolved")
COUNT_UP_TO = 10_000
FILTER_KEYS = ("tab", "severity", "router", "site", "kind", "q", "date_from", "date_to")
CSV_COLUMNS = ("id", "state", "severity", "rule", "kind", "router", "site", "target", "message", "value",
               "suppressed", "started_utc", "opened_utc", "acknowledged_utc", "acknowledged_by", "ack_note",
               "resolved_utc", "resolved_by")


def clean_filters(args: Mapping[str, str]) -> dict[str, str]:
    """The query-string filters, each checked; a bad value is dropped (never a 500)."""
    out = {key: (args.get(key) or "").strip() for key in FILTER_KEYS}
    out["tab"] = out["tab"] if out["tab"] in TABS else "open"
    out["q"] = out["q"][:64]
    out["site"] = out["site"][:120]
    if out["severity"] not in {s.value for s in AlertSeverity}:
        out["severity"] = ""
    if out["kind"] not in {k.value for k in AlertKind}:
        out["kind"] = ""
    if not out["router"].isdigit() or len(out["router"]) > 9:
        out["router"] = ""
    list_filters.clean_days(out)
    return out


def _filtered(filters: dict, tz: str, stmt: Select) -> Select:
    """`stmt` over Alert narrowed by every filter but the tab (pending alerts are never listed)."""
    stmt = stmt.where(Alert.state != AlertState.pending)
    if filters["severity"]:
        stmt = stmt.where(Alert.severity == AlertSeverity(filters["severity"]))
    if filters["router"]:
        stmt = stmt.where(Alert.router_id == int(filters["router"]))
    if filters["site"]:
        stmt = stmt.where(Alert.router_id.in_(select(Router.id).where(Router.site == filters["site"])))
    if filters["kind"]:
        stmt = stmt.where(Alert.rule_id.in_(select(AlertRule.id).where(AlertRule.kind == AlertKind(filters["kind"]))))
    if filters["q"]:
        pattern = list_filters.contains(filters["q"])
        stmt = stmt.where(or_(Alert.message.like(pattern, escape="\\"), Alert.target.like(pattern, escape="\\")))
    return stmt.where(*list_filters.within_days(Alert.opened_at, filters, tz))


def page(filters: dict, tz: str, per_page: int) -> paging.IdPagination:
    """A page of the tab's alerts, newest first."""
    stmt = _filtered(filters, tz, select(Alert)).where(Alert.state == AlertState(filters["tab"]))
    return paging.paginate(stmt.order_by(Alert.id.desc()), Alert.id, per_page)


def counts(filters: dict, tz: str, up_to: int = COUNT_UP_TO) -> dict[str, int]:
    """How many alerts each tab holds under the same filters, each counted up to `up_to` + 1 (the open list polls
    every 10 s: a count must not grow with years of history; the page shows "10,000+")."""
    out = {}
    for tab in TABS:
        ids = _filtered(filters, tz, select(Alert.id)).where(Alert.state == AlertState(tab)).limit(up_to + 1).subquery()
        out[tab] = db.session.execute(select(func.count()).select_from(ids)).scalar() or 0
    return out


@dataclass(frozen=True)
class Names:
    """What a page of alerts refers to, read in one query per table."""

    rules: dict[int, AlertRule]
    routers: dict[int, Router]
    users: dict[int, str]


def names(alerts: list[Alert]) -> Names:
    """The rules, routers and acknowledging/resolving users of a page of alerts."""
    rule_ids = {a.rule_id for a in alerts}
    router_ids = {a.router_id for a in alerts if a.router_id}
    user_ids = {u for a in alerts for u in (a.acked_by_id, a.resolved_by_id) if u}
    rules = {r.id: r for r in db.session.scalars(select(AlertRule).where(AlertRule.id.in_(rule_ids)))} if rule_ids else {}
    routers = ({r.id: r for r in db.session.scalars(select(Router).where(Router.id.in_(router_ids)))}
               if router_ids else {})
    return Names(rules, routers, usernames(user_ids))


def usernames(user_ids: set[int]) -> dict[int, str]:
    """Usernames by id, one query."""
    if not user_ids:
        return {}
    return dict(db.session.execute(select(User.id, User.username).where(User.id.in_(user_ids))).tuples().all())


def filter_choices() -> dict:
    """The routers, sites and rule kinds the filter selects offer."""
    routers = db.session.execute(select(Router.id, Router.name).order_by(Router.name)).tuples().all()
    sites = db.session.scalars(select(Router.site).where(Router.site != "").distinct().order_by(Router.site)).all()
    return {"routers": routers, "sites": sites, "kinds": list(AlertKind), "severities": list(AlertSeverity)}


def rows(filters: dict, tz: str) -> Iterator[list]:
    """CSV rows of the filtered alerts of the tab, newest first, streamed a thousand at a time."""
    acker, resolver = aliased(User), aliased(User)
    stmt = (_filtered(filters, tz, select(
        Alert.id, Alert.state, Alert.severity, AlertRule.name, AlertRule.kind, Router.name, Router.site, Alert.target,
        Alert.message, Alert.value, Alert.suppressed, Alert.started_at, Alert.opened_at, Alert.acked_at,
        acker.username, Alert.ack_note, Alert.resolved_at, resolver.username))
        .join(AlertRule, AlertRule.id == Alert.rule_id).outerjoin(Router, Router.id == Alert.router_id)
        .outerjoin(acker, acker.id == Alert.acked_by_id).outerjoin(resolver, resolver.id == Alert.resolved_by_id)
        .where(Alert.state == AlertState(filters["tab"])).order_by(Alert.id.desc()))
    for row in db.session.execute(stmt.execution_options(yield_per=1000)):
        yield [row[0], row[1].value, row[2].value, row[3], row[4].value, row[5] or "", row[6] or "", row[7], row[8],
               "" if row[9] is None else row[9], row[10], _iso(row[11]), _iso(row[12]), _iso(row[13]), row[14] or "",
               row[15], _iso(row[16]), row[17] or ""]


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


# -- one alert ----------------------------------------------------------------------------------------------------


def timeline(alert_id: int) -> list[AlertEvent]:
    """An alert's history, oldest first."""
    return list(db.session.scalars(select(AlertEvent).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.id)))


@dataclass(frozen=True)
class Delivery:
    """One line of an alert's delivery log, the recipient masked."""

    id: int
    event: str
    channel: str
    recipient: str
    state: str
    attempts: int
    last_error: str
    created_at: datetime
    sent_at: datetime | None


def deliveries(alert_id: int, limit: int = 200) -> list[Delivery]:
    """The notifications sent (or being sent) about an alert, newest first, recipients masked."""
    stmt = (select(Notification).where(Notification.alert_id == alert_id).order_by(Notification.id.desc()).limit(limit))
    return [Delivery(n.id, n.event, n.channel, mask(n.recipient, n.channel), n.state.value, n.attempts,
                     n.last_error or "", n.created_at, n.sent_at) for n in db.session.scalars(stmt)]
