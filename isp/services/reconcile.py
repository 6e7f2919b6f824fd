"""Reconcile: compare what a router holds with what SQL says it should hold, and queue the difference.

Only objects the panel owns are touched: hotspot users whose comment carries our tag
("isp voucher batch N", written by every push) and user profiles named "isp-…" (every plan's
profile). Anything else on the router is counted as unmanaged and left alone.

The router side is read by the job (one read per menu); everything here is SQL and the outbox.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select

from isp import dispatch
from isp.extensions import db, redis_store
from isp.models import CommandState, Priority, Router, RouterCommand, RouterMode, User
from isp.models.plan import HotspotPlan, plan_routers
from isp.models.voucher import Voucher, VoucherState
from isp.routeros.operations import differences
from isp.services import audit, branding, outbox
from isp.services.errors import ServiceError
from isp.services.voucher_lifecycle import remaining_attrs
from isp.services.vouchers import user_attrs

USER_TAG = "isp voucher"  # start of the comment every voucher push writes
PROFILE_PREFIX = "isp-"   # start of every plan's profile name
USER_FIELDS = ("name", "password", "profile", "limit-uptime", "limit-bytes-total", "disabled", "comment", "server")
PROFILE_FIELDS = ("name", "shared-users", "rate-limit", "session-timeout")
# Attributes compared on a user that has been used: its limits were pushed as "what was left" at the time.
USED_USER_FIELDS = ("password", "profile", "disabled", "comment")
BULK_OVER = 20  # more fixes than this go through the bulk queue in chunks
SAMPLE = 10     # names kept per kind in the report
REPORT_TTL = 30 * 86400


def report_key(router_id: int) -> str:
    return f"isp:reconcile:{router_id}"


def job_id(router_id: int) -> str:
    return f"reconcile-{router_id}"


@dataclass
class Drift:
    """What one comparison found, per kind, with a few names of each for the report."""

    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    leftover: list[str] = field(default_factory=list)
    unmanaged: int = 0
    in_flight: int = 0

    def total(self) -> int:
        return len(self.missing) + len(self.changed) + len(self.leftover)


def _owned_user(row: dict) -> bool:
    return str(row.get("comment", "")).startswith(USER_TAG)


def _owned_profile(row: dict) -> bool:
    return str(row.get("name", "")).startswith(PROFILE_PREFIX)


def _in_flight(router_id: int) -> set[str]:
    """Idempotency keys with an unfinished command: their change is already on its way."""
    return set(db.session.scalars(select(RouterCommand.idempotency_key).where(
        RouterCommand.router_id == router_id, RouterCommand.state.in_(CommandState.unfinished()))))


def _wanted_profiles(router_id: int) -> dict[str, dict]:
    plans = db.session.scalars(select(HotspotPlan).join(plan_routers, plan_routers.c.plan_id == HotspotPlan.id)
                               .where(plan_routers.c.router_id == router_id))
    return {plan.profile_name: plan.profile_attrs() for plan in plans}


def _vouchers(router_id: int) -> list[Voucher]:
    """Every voucher of the router that is not deleted, with its batch (one query)."""
    return list(db.session.scalars(select(Voucher).where(
        Voucher.router_id == router_id, Voucher.state != VoucherState.deleted)))


def compare(router: Router, users: list[dict], profiles: list[dict]) -> tuple[Drift, Drift, list[tuple]]:
    """Diff the router's rows with SQL; returns (user drift, profile drift, outbox items to queue)."""
    busy = _in_flight(router.id)
    expiry_action = branding.get().expiry_action
    items: list[tuple[str, str, dict]] = []

    pdrift = Drift()
    wanted_profiles = _wanted_profiles(router.id)
    have_profiles = {}
    for row in profiles:
        if _owned_profile(row):
            have_profiles[row["name"]] = row
        else:
            pdrift.unmanaged += 1
    referenced: set[str] = set()

    udrift = Drift()
    have_users: dict[str, dict] = {}
    for row in users:
        if _owned_user(row):
            have_users[str(row.get("name", ""))] = row
        else:
            udrift.unmanaged += 1
    known: set[str] = set()
    for voucher in _vouchers(router.id):
        known.add(voucher.code)
        key, row = voucher.command_key, have_users.get(voucher.code)
        if row is not None:
            referenced.add(str(row.get("profile", "")))
        if key in busy:
            udrift.in_flight += 1
            continue
        if voucher.state in (VoucherState.unused, VoucherState.active):
            used = voucher.first_login_at is not None or voucher.uptime_seconds or voucher.bytes_total
            wanted = remaining_attrs(voucher) if used else user_attrs(voucher.code, voucher.password, voucher.batch)
            referenced.add(wanted["profile"])
            if row is None:
                udrift.missing.append(voucher.code)
                items.append(("hotspot_user.ensure", key, {"attrs": wanted}))
            elif differences(row, wanted, USED_USER_FIELDS if used else None):
                udrift.changed.append(voucher.code)
                if used:  # the router's counters still run against the limits it has: leave those alone
                    wanted = {k: wanted[k] for k in ("name", *USED_USER_FIELDS) if k in wanted}
                items.append(("hotspot_user.ensure", key, {"attrs": wanted}))
        elif row is not None:
            # Retired (expired, exhausted, disabled by staff): absent, or present but disabled.
            remove = voucher.state not in (VoucherState.disabled,) and expiry_action == "remove"
            enabled = str(row.get("disabled", "false")) not in ("true", "yes")
            if remove or enabled:
                udrift.leftover.append(voucher.code)
                items.append(("hotspot_user.retire", key, {"name": voucher.code,
                                                            "action": "remove" if remove else "disable"}))
    for name in have_users:
        if name not in known and f"hotspot_user:{name}" not in busy:
            udrift.leftover.append(name)  # ours once (a deleted voucher, a wiped database): remove it
            items.append(("hotspot_user.retire", f"hotspot_user:{name}", {"name": name, "action": "remove"}))

    profile_items: list[tuple[str, str, dict]] = []
    for name, attrs in wanted_profiles.items():
        key, row = f"hotspot_profile:{name}", have_profiles.get(name)
        if key in busy:
            pdrift.in_flight += 1
        elif row is None:
            pdrift.missing.append(name)
            profile_items.append(("hotspot_profile.ensure", key, {"attrs": attrs}))
        elif differences(row, attrs):
            pdrift.changed.append(name)
            profile_items.append(("hotspot_profile.ensure", key, {"attrs": attrs}))
    for name in have_profiles:
        # A profile still used by a user stays (RouterOS would refuse to remove it anyway).
        if name not in wanted_profiles and name not in referenced and f"hotspot_profile:{name}" not in busy:
            pdrift.leftover.append(name)
            profile_items.append(("hotspot_profile.remove", f"hotspot_profile:{name}", {"name": name}))
    # Profiles first: a user can only be created once its profile exists.
    return udrift, pdrift, profile_items + items


def queue_fixes(router: Router, items: list[tuple[str, str, dict]]) -> int:
    """Queue the fixes through the outbox: one high command each when few, bulk chunks when many."""
    if len(items) <= BULK_OVER:
        for op, key, payload in items:
            outbox.queue_command(router, op, key, payload, Priority.high)
        return len(items)
    chunk = current_app.config["BULK_CHUNK"]
    group = f"reconcile:{router.id}:{int(time.time())}"
    for op in dict.fromkeys(op for op, _, _ in items):  # one call per operation keeps chunks pipelinable
        outbox.queue_bulk(router, [item for item in items if item[0] == op], group, chunk)
    return len(items)


def _sample(names: list[str]) -> list[str]:
    return sorted(names)[:SAMPLE]


def record(router_id: int, reason: str, users: Drift | None = None, profiles: Drift | None = None,
           error: str = "", seconds: float = 0.0) -> dict:
    """Keep the last reconcile's outcome for the router page (Redis; a report, not business data)."""
    report: dict = {"at": time.time(), "reason": reason, "error": error, "seconds": round(seconds, 2)}
    for name, drift in (("users", users), ("profiles", profiles)):
        if drift is not None:
            report[name] = {"missing": len(drift.missing), "changed": len(drift.changed), "leftover": len(drift.leftover),
                            "unmanaged": drift.unmanaged, "in_flight": drift.in_flight,
                            "examples": {"missing": _sample(drift.missing), "changed": _sample(drift.changed),
                                         "leftover": _sample(drift.leftover)}}
    report["fixed"] = sum(d.total() for d in (users, profiles) if d is not None)
    redis_store.client.set(report_key(router_id), json.dumps(report), ex=REPORT_TTL)
    return report


def last_report(router_id: int) -> dict | None:
    """The router's last reconcile report, with whether a run is queued or running now."""
    raw = redis_store.client.get(report_key(router_id))
    report = json.loads(raw) if raw else None
    pending = bool(dispatch.alive([job_id(router_id)]))
    if report is None:
        return {"pending": True} if pending else None
    return {**report, "pending": pending}


def request_sync(router: Router, actor: User | None = None, reason: str = "requested from the router page") -> bool:
    """Queue a reconcile of one router after the commit; False when one is already queued or running."""
    if router.mode != RouterMode.api:
        raise ServiceError(f"'{router.name}' keeps its users in FreeRADIUS: there is nothing on the router to sync.")
    if not router.enabled:
        raise ServiceError(f"'{router.name}' is disabled. Enable it before syncing.")
    if dispatch.alive([job_id(router.id)]):
        return False
    dispatch.after_commit(db.session, dispatch.Enqueue(dispatch.RECONCILE, (router.id, reason), job_id(router.id)))
    if actor is not None:
        audit.record(actor, "router.sync", router.name)
    return True


def due_routers() -> list[int]:
    """Enabled API-mode routers: the periodic reconcile visits each."""
    return list(db.session.scalars(select(Router.id).where(Router.enabled.is_(True), Router.mode == RouterMode.api)))


def queue_all(reason: str = "scheduled") -> int:
    """Queue one reconcile per enabled API-mode router, skipping those already queued or running."""
    return dispatch.enqueue_once(dispatch.RECONCILE, {job_id(i): (i, reason) for i in due_routers()})

