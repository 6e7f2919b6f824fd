"""Reading the audit log: filters (in the operator's timezone), a page, readable diffs, and the CSV rows."""
from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.sql import Select

from isp.extensions import db
from isp.models import AuditEntry, User
from isp.services import audit, list_filters, paging

FILTER_KEYS = ("actor", "action", "target_type", "target_id", "via", "date_from", "date_to", "q")
VIAS = ("web", "api", "cli", "job")
SYSTEM = "(system)"  # the actor filter's value for rows with no actor (jobs, commands run by nobody in particular)
CSV_COLUMNS = ["id", "when", "actor", "via", "ip", "action", "target_type", "target_id", "target", "detail", "changes"]
# A field name as people read it: the storage suffix goes (a sealed password is still "password").
SUFFIXES = ("_encrypted", "_json", "_text", "_id")


def clean_filters(args: Mapping[str, str]) -> dict[str, str]:
    """The query-string filters, each checked; a bad value is dropped (never a 500)."""
    out = {key: (args.get(key) or "").strip() for key in FILTER_KEYS}
    out["actor"] = out["actor"][:64]
    out["action"] = out["action"][:65]
    out["target_type"] = out["target_type"][:32]
    out["q"] = out["q"][:128]
    if not (out["target_id"].isascii() and out["target_id"].isdigit()) or len(out["target_id"]) > 12:
        out["target_id"] = ""
    if out["via"] not in VIAS:
        out["via"] = ""
    list_filters.clean_days(out)
    return out


def active(filters: Mapping[str, str]) -> bool:
    """True when any filter is set."""
    return any(filters.get(key) for key in FILTER_KEYS)


def filtered(filters: Mapping[str, str], tz: str, stmt: Select | None = None) -> Select:
    """`stmt` (default: the entries) narrowed by every filter, newest first."""
    stmt = select(AuditEntry) if stmt is None else stmt
    if filters["actor"] == SYSTEM:
        stmt = stmt.where(AuditEntry.actor_id.is_(None))
    elif filters["actor"]:
        stmt = stmt.where(AuditEntry.actor_id.in_(
            select(User.id).where(func.lower(User.username) == filters["actor"].lower())))
    action = filters["action"]
    if action.endswith(".*"):  # a family: router.* is router.create, router.update, …
        stmt = stmt.where(AuditEntry.action.like(list_filters.contains(action[:-1])[1:], escape="\\"))
    elif action:
        stmt = stmt.where(AuditEntry.action == action)
    if filters["target_type"]:
        stmt = stmt.where(AuditEntry.target_type == filters["target_type"])
    if filters["target_id"]:
        stmt = stmt.where(AuditEntry.target_id == int(filters["target_id"]))
    if filters["via"]:
        stmt = stmt.where(AuditEntry.via == filters["via"])
    if filters["q"]:
        stmt = stmt.where(AuditEntry.target.like(list_filters.contains(filters["q"]), escape="\\"))
    stmt = stmt.where(*list_filters.within_days(AuditEntry.at, filters, tz))
    return stmt.order_by(AuditEntry.id.desc())


def page(filters: Mapping[str, str], tz: str, per_page: int) -> paging.IdPagination:
    """One page of the filtered entries, newest first, paged by id in SQL."""
    return paging.paginate(filtered(filters, tz), AuditEntry.id, per_page)


def usernames(entries: list[AuditEntry]) -> dict[int, str]:
    """Usernames of a page's actors (one query)."""
    ids = {e.actor_id for e in entries if e.actor_id}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.username).where(User.id.in_(ids))).tuples().all())


def choices() -> dict[str, list[str]]:
    """What the filters offer: the actions recorded so far with their families, target types, vias (index reads)."""
    actions = list(db.session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))
    families = sorted({a.split(".")[0] + ".*" for a in actions if "." in a})
    types = [t for t in db.session.scalars(select(AuditEntry.target_type).distinct().order_by(AuditEntry.target_type)) if t]
    return {"actions": actions, "families": families, "target_types": types, "vias": list(VIAS)}


# -- what a row says ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One changed field, as people read it."""

    field: str
    old: str
    new: str
    secret: bool


def label(field: str) -> str:
    """'password_encrypted' → 'password', 'addresses_text' → 'addresses', 'plan_id' → 'plan'."""
    for suffix in SUFFIXES:
        if field.endswith(suffix) and len(field) > len(suffix):
            field = field[: -len(suffix)]
            break
    return field.replace("_", " ")


def shown(value: object) -> str:
    """A recorded value as text: '—' for nothing, lists and mappings spelled out."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(shown(v) for v in value) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {shown(v)}" for k, v in value.items()) or "—"
    return str(value)


def changes(entry: AuditEntry) -> list[Change]:
    """The entry's diff as readable changes (a secret shows only as masked; an unreadable diff as nothing)."""
    try:
        data = json.loads(entry.changes) if entry.changes else {}
    except ValueError:
        return []
    if not isinstance(data, dict):
        return []
    out = []
    for field, pair in data.items():
        old, new = pair if isinstance(pair, list) and len(pair) == 2 else (None, pair)
        secret = audit.is_secret(field)
        if secret:  # stored masked already; never trust a row to say otherwise
            old, new = (audit.MASK if old not in (None, "") else None), (audit.MASK if new not in (None, "") else None)
        out.append(Change(label(field), shown(old), shown(new), secret))
    return out


def changes_text(entry: AuditEntry) -> str:
    """The diff on one line: 'field: old → new; …'."""
    return "; ".join(f"{c.field}: {c.old} → {c.new}" for c in changes(entry))


# What page shows each kind of target: (endpoint, its id argument).
LINKS: dict[str, tuple[str, str | None]] = {
    "routers": ("routers.detail", "router_id"),
    "hotspot_plans": ("plans.edit", "plan_id"),
    "service_plans": ("customers.plan_edit", "service_plan_id"),
    "customers": ("customers.detail", "customer_id"),
    "subscriptions": ("customers.service_edit", "subscription_id"),
    "voucher_batches": ("vouchers.batch", "batch_id"),
    "vouchers": ("vouchers.detail", "voucher_id"),
    "users": ("users.edit", "user_id"),
    "alert_rules": ("alerts.rule_edit", "rule_id"),
    "alerts": ("alerts.detail", "alert_id"),
    "invoices": ("billing.invoice", "invoice_id"),
    "payments": ("billing.receipt", "payment_id"),
    # One page for every row of the kind (no id in its address).
    "branding": ("settings.index", None),
    "notification_channels": ("notifications.settings", None),
    "maintenance_windows": ("alerts.maintenance", None),
    "router_commands": ("monitoring.index", None),
}


def link(entry: AuditEntry) -> tuple[str, dict[str, int]] | None:
    """(endpoint, arguments) of the target's page, or None when it has none."""
    found = LINKS.get(entry.target_type)
    if found is None or found[0] not in current_app.view_functions:  # a page this app does not serve: no link
        return None
    endpoint, argument = found
    if argument is None:
        return endpoint, {}
    return (endpoint, {argument: entry.target_id}) if entry.target_id is not None else None


def rows(filters: Mapping[str, str], tz: str) -> Iterator[list]:
    """CSV rows of the filtered entries, newest first, streamed a thousand at a time (times local, as on the page)."""
    zone = ZoneInfo(tz)
    stmt = filtered(filters, tz, select(AuditEntry, User.username).outerjoin(User, User.id == AuditEntry.actor_id))
    for entry, username in db.session.execute(stmt.execution_options(yield_per=1000)):
        yield [entry.id, entry.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"), username or "", entry.via, entry.ip,
               entry.action, entry.target_type, "" if entry.target_id is None else entry.target_id, entry.target,
               entry.detail, changes_text(entry)]
