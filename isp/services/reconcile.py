"""Reconcile: compare what a router holds with what SQL says it should hold, and queue the difference.

Only objects the panel owns are touched: hotspot users whose comment carries our tag
("isp voucher batch N", written by every push) and user profiles named after one of our plans.
Anything else on the router is counted as unmanaged and left alone, even when it holds a name we
need (reported as a conflict for a person to resolve).

What subscriptions put on routers (PPP secrets and profiles, subscriber hotspot users, simple queues, address
lists) is compared by `reconcile_services`, in the same job and report.

The router side is read by the job (one read per menu); everything here is SQL and the outbox.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import lazyload, selectinload

from isp import dispatch
from isp.extensions import db, redis_store
from isp.models import CommandState, Priority, Router, RouterCommand, RouterMode, User
from isp.models.plan import HotspotPlan, plan_routers
from isp.models.voucher import Voucher, VoucherBatch, VoucherState
from isp.routeros.operations import differences
from isp.services import audit, branding, outbox
from isp.services.errors import ServiceError
from isp.services.voucher_lifecycle import LIVE, remaining_attrs
from isp.services.vouchers import VOUCHER_TAG, user_attrs
from isp.sqlutil import chunked

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
    conflict: list[str] = field(default_factory=list)  # an object we did not make holds a name we need
    unmanaged: int = 0
    in_flight: int = 0

    def total(self) -> int:
        return len(self.missing) + len(self.changed) + len(self.leftover)


def in_flight(router_id: int) -> set[str]:
    """Idempotency keys with an unfinished command: their change is already on its way."""
    return set(db.session.scalars(select(RouterCommand.idempotency_key).where(
        RouterCommand.router_id == router_id, RouterCommand.state.in_(CommandState.unfinished()))))


def _live_vouchers(router_id: int) -> list[Voucher]:
    """The router's unused and active vouchers, with batch and plan (three queries, no wide joins)."""
    return list(db.session.scalars(select(Voucher).where(Voucher.router_id == router_id, Voucher.state.in_(LIVE))
                                   .options(lazyload("*"), selectinload(Voucher.batch).lazyload("*"),
                                            selectinload(Voucher.batch).selectinload(VoucherBatch.plan))))


def _retired_states(router_id: int, names: list[str]) -> dict[str, VoucherState]:
    """State of the router's retired vouchers among `names` (only what the router still holds is looked up)."""
    found: dict[str, VoucherState] = {}
    for part in chunked(names):
        found.update(db.session.execute(select(Voucher.code, Voucher.state).where(
            Voucher.router_id == router_id, Voucher.code.in_(part), Voucher.state.not_in(LIVE))).tuples().all())
    return found


def _compare_fields(row: dict, used: bool) -> tuple[str, ...] | None:
    """What to compare on a router user: all we push, or what a used one keeps; never a password the API hides.

    RouterOS shows hotspot passwords only to an API user with the `sensitive` policy; without it the field
    is absent, and comparing it would re-push every user on every reconcile.
    """
    fields = USED_USER_FIELDS if used else USER_FIELDS
    return tuple(f for f in fields if f != "password" or "password" in row)


def compare(router: Router, users: list[dict], profiles: list[dict],
            busy: set[str] | None = None) -> tuple[Drift, Drift, list[tuple], list[tuple]]:
    """Diff the router's rows with SQL; returns (user drift, profile drift, profile fixes, user fixes).

    Ours are users tagged with VOUCHER_TAG in their comment and profiles named after a plan; a user
    or profile we did not make is never changed, even when it holds a name we need (a conflict).
    """
    busy = in_flight(router.id) if busy is None else busy
    udrift, pdrift = Drift(), Drift()
    ours, foreign, referenced = {}, set(), set()
    for row in users:
        name = str(row.get("name", ""))
        referenced.add(str(row.get("profile", "")))  # RouterOS refuses to remove a profile still in use
        if str(row.get("comment", "")).startswith(VOUCHER_TAG):
            ours[name] = row
        else:
            foreign.add(name)
            udrift.unmanaged += 1

    user_items: list[tuple[str, str, dict]] = []
    wanted_profiles = {plan.profile_name: plan.profile_attrs() for plan in db.session.scalars(
        select(HotspotPlan).join(plan_routers, plan_routers.c.plan_id == HotspotPlan.id)
        .where(plan_routers.c.router_id == router.id))}
    live = _live_vouchers(router.id)
    for voucher in live:
        # A plan taken off the router still needs its profile while its vouchers live there.
        wanted_profiles.setdefault(voucher.batch.profile_name, voucher.batch.plan.profile_attrs())
        key, row = voucher.command_key, ours.get(voucher.code)
        if key in busy:
            udrift.in_flight += 1
            continue
        if row is None and voucher.code in foreign:
            udrift.conflict.append(voucher.code)
            continue
        used = bool(voucher.first_login_at is not None or voucher.uptime_seconds or voucher.bytes_total)
        wanted = remaining_attrs(voucher) if used else user_attrs(voucher.code, voucher.password, voucher.batch)
        if row is None:
            udrift.missing.append(voucher.code)
            user_items.append(("hotspot_user.ensure", key, {"attrs": wanted}))
        elif differences(row, wanted, _compare_fields(row, used)):
            udrift.changed.append(voucher.code)
            if used:  # the router's counters still run against the limits it has: leave those alone
                wanted = {k: wanted[k] for k in ("name", *USED_USER_FIELDS) if k in wanted}
            user_items.append(("hotspot_user.ensure", key, {"attrs": wanted}))

    live_codes = {voucher.code for voucher in live}
    leftovers = sorted(name for name in ours if name not in live_codes and f"hotspot_user:{name}" not in busy)
    retired = _retired_states(router.id, leftovers)
    expiry_action = branding.get().expiry_action
    for name in leftovers:
        state, row = retired.get(name), ours[name]
        # Retired by staff (disabled) or by the clock with the "disable" action: present but disabled is right.
        keep_disabled = state == VoucherState.disabled or (state in (VoucherState.expired, VoucherState.exhausted)
                                                           and expiry_action == "disable")
        if keep_disabled and str(row.get("disabled", "false")).lower() in ("true", "yes"):
            continue
        udrift.leftover.append(name)  # a deleted or retired voucher, or ours once (a wiped database)
        user_items.append(("hotspot_user.retire", f"hotspot_user:{name}",
                           {"name": name, "action": "disable" if keep_disabled else "remove"}))

    plan_profiles = set(db.session.scalars(select(HotspotPlan.profile_name)))
    have_profiles, foreign_profiles = {}, set()
    for row in profiles:
        name = str(row.get("name", ""))
        if name in plan_profiles:
            have_profiles[name] = row
        else:
            foreign_profiles.add(name)
            pdrift.unmanaged += 1
    profile_items: list[tuple[str, str, dict]] = []
    for name, attrs in wanted_profiles.items():
        key, row = f"hotspot_profile:{name}", have_profiles.get(name)
        if key in busy:
            pdrift.in_flight += 1
        elif row is None and name in foreign_profiles:
            pdrift.conflict.append(name)
        elif row is None:
            pdrift.missing.append(name)
            profile_items.append(("hotspot_profile.ensure", key, {"attrs": attrs}))
        elif differences(row, attrs):
            pdrift.changed.append(name)
            profile_items.append(("hotspot_profile.ensure", key, {"attrs": attrs}))
    for name in have_profiles:
        if name not in wanted_profiles and name not in referenced and f"hotspot_profile:{name}" not in busy:
            pdrift.leftover.append(name)
            profile_items.append(("hotspot_profile.remove", f"hotspot_profile:{name}", {"name": name}))
    return udrift, pdrift, profile_items, user_items


def queue_fixes(router: Router, profile_items: list[tuple], user_items: list[tuple]) -> int:
    """Queue the fixes through the outbox: profiles first, each on `high` (a user needs its profile);
    users one `high` command each when few, bulk chunks when many."""
    for op, key, payload in profile_items:
        outbox.queue_command(router, op, key, payload, Priority.high)
    if len(user_items) <= BULK_OVER:
        for op, key, payload in user_items:
            outbox.queue_command(router, op, key, payload, Priority.high)
    else:
        chunk = current_app.config["BULK_CHUNK"]
        group = f"reconcile:{router.id}:{int(time.time())}"
        for op in dict.fromkeys(op for op, _, _ in user_items):  # one call per operation keeps chunks pipelinable
            outbox.queue_bulk(router, [item for item in user_items if item[0] == op], group, chunk)
    return len(profile_items) + len(user_items)


def _sample(names: list[str]) -> list[str]:
    return sorted(names)[:SAMPLE]


def _counts(drift: Drift) -> dict:
    return {"missing": len(drift.missing), "changed": len(drift.changed), "leftover": len(drift.leftover),
            "conflict": len(drift.conflict), "unmanaged": drift.unmanaged, "in_flight": drift.in_flight,
            "examples": {"missing": _sample(drift.missing), "changed": _sample(drift.changed),
                         "leftover": _sample(drift.leftover), "conflict": _sample(drift.conflict)}}


def record(router_id: int, reason: str, users: Drift | None = None, profiles: Drift | None = None,
           error: str = "", seconds: float = 0.0, services: dict[str, Drift] | None = None) -> dict:
    """Keep the last reconcile's outcome for the router page (Redis; a report, not business data).

    `users` and `profiles` are the vouchers' hotspot menus; `services` holds the subscriptions' menus by name
    (secrets, subscribers, queues, address_lists, ppp_profiles, service_profiles).
    """
    report: dict = {"at": time.time(), "reason": reason, "error": error, "seconds": round(seconds, 2)}
    drifts = {"users": users, "profiles": profiles, **(services or {})}
    for name, drift in drifts.items():
        if drift is not None:
            report[name] = _counts(drift)
    report["fixed"] = sum(d.total() for d in drifts.values() if d is not None)
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
        audit.record(actor, "router.sync", router.name, reason, obj=router)
    return True


def due_routers() -> list[int]:
    """Enabled API-mode routers: the periodic reconcile visits each."""
    return list(db.session.scalars(select(Router.id).where(Router.enabled.is_(True), Router.mode == RouterMode.api)))


def queue_all(reason: str = "scheduled") -> int:
    """Queue one reconcile per enabled API-mode router, skipping those already queued or running."""
    return dispatch.enqueue_once(dispatch.RECONCILE, {job_id(i): (i, reason) for i in due_routers()})

