"""Reconcile for subscriptions (api mode): what subscriptions put on a router compared with SQL.

Ours are PPP secrets, hotspot users and simple queues whose comment starts with "isp service", address-list
entries of `isp-active` / `isp-suspended` carrying that comment (never a dynamic one), and PPP / hotspot user
profiles named after a service plan (or its FUP variant) or `isp-suspended`. Anything else is left alone, even
when it holds a name a subscription needs (a conflict, for a person to resolve).

The desired state comes from `provisioning_api.desired` (the same mapping a change uses, state-aware: a
suspended service must be disabled or restricted, a pending one absent), and a drifted subscription is fixed
by queueing its whole `service.apply`; a leftover (ours, no live subscription on this router) by its
removal. A plan's drifted profile is fixed by its `plan.apply`. Items with an unfinished command are skipped.
"""
from __future__ import annotations

import logging
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import noload

from isp.extensions import db
from isp.models import Priority, Router, ServiceKind, ServicePlan, Subscription, SubscriptionState, service_plan_routers
from isp.routeros.operations import differences
from isp.services import branding, outbox
from isp.services.provisioning_api import (
    OUR_LISTS,
    RESTRICTED,
    SERVICE_TAG,
    SUSPENDED_PROFILE,
    Command,
    apply_command,
    command_key,
    desired,
    entry_comment,
    opened,
    placement,
    plan_command,
    profile_items,
    queue_commands,
    queue_name,
    removal_command,
    suspended_profile,
)
from isp.services.reconcile import BULK_OVER, Drift

log = logging.getLogger(__name__)

SECRET_FIELDS = ("name", "password", "service", "profile", "caller-id", "remote-address", "comment", "disabled")
# Read with the voucher users in one print: the union of both kinds' fields.
SUBSCRIBER_FIELDS = ("name", "password", "profile", "mac-address", "address", "comment", "disabled", "server")
PPP_PROFILE_FIELDS = ("name", "rate-limit", "only-one", "remote-address", "address-list")
HOTSPOT_PROFILE_FIELDS = ("name", "rate-limit", "shared-users", "address-pool")
QUEUE_FIELDS = ("name", "target", "max-limit", "burst-limit", "burst-threshold", "burst-time", "limit-at", "priority",
                "comment", "disabled")
ENTRY_FIELDS = ("list", "address", "comment", "dynamic", "disabled")
# Report rows, in the order the router page shows them.
KINDS = {"secrets": "PPP secrets", "subscribers": "Hotspot subscribers", "queues": "Simple queues",
         "address_lists": "Address lists", "ppp_profiles": "PPP profiles", "service_profiles": "Service user profiles"}
_DRIFT_OF = {"ppp_secret": "secrets", "hotspot_user": "subscribers", "queue": "queues"}
_KIND_OF_MENU = {"ppp_secret": ServiceKind.pppoe, "hotspot_user": ServiceKind.hotspot, "queue": ServiceKind.static}


def ours(row: dict) -> bool:
    """True for an item a subscription put there (by its comment)."""
    return str(row.get("comment", "")).startswith(SERVICE_TAG)


def _profile_names() -> dict[ServiceKind, set[str]]:
    """Every profile name a service plan may put on a router, per kind (the restricted one included)."""
    names: dict[ServiceKind, set[str]] = {ServiceKind.pppoe: {SUSPENDED_PROFILE}, ServiceKind.hotspot: {SUSPENDED_PROFILE}}
    for plan in db.session.scalars(select(ServicePlan).where(ServicePlan.kind != ServiceKind.static).options(noload("*"))):
        names[plan.kind].update({plan.profile_name, plan.fup_profile_name})
    return names


def voucher_rows(users: list[dict], profiles: list[dict]) -> tuple[list[dict], list[dict]]:
    """The hotspot users and profiles voucher reconcile looks at: everything but what subscriptions own."""
    service_profiles = _profile_names()[ServiceKind.hotspot]
    return ([u for u in users if not ours(u)], [p for p in profiles if str(p.get("name", "")) not in service_profiles])


def _live_subscriptions(router_id: int) -> list[Subscription]:
    """The router's subscriptions that are not terminated (customer and plan come joined, one query)."""
    return list(db.session.scalars(select(Subscription).where(
        Subscription.router_id == router_id, Subscription.state != SubscriptionState.terminated).order_by(Subscription.id)))


def compare(router: Router, read: dict[str, list[dict]], busy: set[str]) -> tuple[dict[str, Drift], list[Command], list[Command]]:
    """Diff the router's service items with SQL; returns (drift per KINDS key, profile fixes, service fixes)."""
    drift = {kind: Drift() for kind in KINDS}
    mode = branding.get().suspend_mode
    index = {"ppp_secret": {str(r.get("name")): r for r in read["secrets"]},
             "hotspot_user": {str(r.get("name")): r for r in read["users"]},
             "queue": {str(r.get("name")): r for r in read["queues"]}}
    entries = [r for r in read["entries"] if str(r.get("list")) in OUR_LISTS and str(r.get("dynamic", "false")) != "true"]
    by_owner: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for row in entries:
        if ours(row):
            by_owner[str(row["comment"])].add((str(row.get("list")), str(row.get("address"))))
    for menu, rows in index.items():
        drift[_DRIFT_OF[menu]].unmanaged = sum(1 for row in rows.values() if not ours(row))
    drift["subscribers"].unmanaged = 0  # the voucher rows count the hotspot users we do not own
    drift["address_lists"].unmanaged = sum(1 for row in entries if not ours(row))

    subs = _live_subscriptions(router.id)
    live: dict[ServiceKind, set[str]] = defaultdict(set)
    fixes: list[Command] = []
    restricted: set[ServiceKind] = set()
    for sub in subs:
        live[sub.kind].add(sub.username)
        if placement(sub, mode) == RESTRICTED:
            restricted.add(sub.kind)
        menu = {ServiceKind.pppoe: "ppp_secret", ServiceKind.hotspot: "hotspot_user"}.get(sub.kind, "queue")
        if command_key(sub.kind, sub.username) in busy:
            drift[_DRIFT_OF[menu]].in_flight += 1
            continue
        try:
            items = desired(sub, mode)
        except ValueError as exc:  # e.g. a password the key no longer opens: logged, never pushed half-made
            log.error("reconcile %s: subscription %s: %s", router.name, sub.id, exc)
            continue
        if _drifted(sub, items, index, by_owner, drift):
            fixes.append(apply_command(sub, mode, items=items))

    # Leftovers: ours, with no live subscription of that name on this router.
    seen: set[str] = set()
    for menu, rows in index.items():
        kind = _KIND_OF_MENU[menu]
        for name, row in rows.items():
            owner = name.removeprefix(queue_name("")) if kind == ServiceKind.static else name
            if not ours(row) or owner in live[kind]:
                continue
            if queue_name(owner) != name and kind == ServiceKind.static:  # ours, under a name we never give
                drift["queues"].leftover.append(name)
                fixes.append(("queue.remove", f"queue:{name}", {"name": name}))
            else:
                _leftover(drift[_DRIFT_OF[menu]], kind, owner, busy, seen, fixes)
    for comment, pairs in by_owner.items():
        owner = comment[len(SERVICE_TAG) + 1:]
        if owner not in live[ServiceKind.static]:
            drift["address_lists"].leftover.extend(address for _, address in sorted(pairs))
            _leftover(None, ServiceKind.static, owner, busy, seen, fixes)
    return drift, _profiles(router, read, subs, restricted, busy, drift), fixes


def _leftover(drift: Drift | None, kind: ServiceKind, owner: str, busy: set[str], seen: set[str], fixes: list[Command]) -> None:
    key = command_key(kind, owner)
    if key in busy:
        if drift is not None:
            drift.in_flight += 1
        return
    if drift is not None:
        drift.leftover.append(owner)
    if key not in seen:
        seen.add(key)
        fixes.append(removal_command(kind, owner))


def _differs(row: dict, wanted: dict) -> bool:
    """Whether `row` differs from `wanted` (its password only when the router shows passwords at all)."""
    return bool(differences(row, wanted, tuple(f for f in wanted if f != "password" or "password" in row)))


def _drifted(sub: Subscription, items: list, index: dict, by_owner: dict, drift: dict[str, Drift]) -> bool:
    """Whether the router differs from `items` for this subscription (noting how in `drift`)."""
    found = False
    for item in items:
        if item.kind not in index:
            continue  # profiles are compared per plan, address lists below
        row, kind_drift = index[item.kind].get(item.key[0]), drift[_DRIFT_OF[item.kind]]
        if item.attrs is None:
            if row is not None and ours(row):
                kind_drift.changed.append(sub.username)  # there, but the service is pending: it must go
                found = True
        elif row is None:
            kind_drift.missing.append(sub.username)
            found = True
        elif not ours(row):
            kind_drift.conflict.append(sub.username)
            return False  # someone else's item holds the name: never taken over
        elif _differs(row, opened(item.attrs)):
            kind_drift.changed.append(sub.username)
            found = True
    if sub.kind == ServiceKind.static:
        wanted = {item.key for item in items if item.kind == "address_list" and item.attrs is not None}
        have = by_owner.get(entry_comment(sub.username), set())
        if wanted != have:
            target = drift["address_lists"]
            (target.missing if wanted - have else target.changed).append(sub.static_ip or sub.username)
            found = True
    return found


def _profiles(router: Router, read: dict, subs: list[Subscription], restricted: set[ServiceKind], busy: set[str],
              drift: dict[str, Drift]) -> list[Command]:
    """Compare the service plans' profiles (and the restricted one) the router needs; returns their fixes."""
    plans = {sub.plan.id: sub.plan for sub in subs}
    plans.update({plan.id: plan for plan in db.session.scalars(select(ServicePlan).join(
        service_plan_routers, service_plan_routers.c.plan_id == ServicePlan.id).where(
        service_plan_routers.c.router_id == router.id))})
    names = _profile_names()
    fixes: list[Command] = []
    for kind, menu, rows, users, kind_drift in (
            (ServiceKind.pppoe, "ppp_profile", read["ppp_profiles"], read["secrets"], drift["ppp_profiles"]),
            (ServiceKind.hotspot, "hotspot_profile", read["hotspot_profiles"], read["users"], drift["service_profiles"])):
        have = {str(r.get("name")): r for r in rows if str(r.get("name")) in names[kind]}
        wanted: dict[str, tuple] = {}  # profile name -> (attrs, fix command)
        for plan in sorted(plans.values(), key=lambda p: p.id):
            if plan.kind == kind:
                for item in profile_items(plan):
                    wanted[item.key[0]] = (item.attrs, plan_command(plan))
        if kind in restricted:
            item = suspended_profile(kind)
            wanted[SUSPENDED_PROFILE] = (item.attrs, (f"{menu}.ensure", f"{menu}:{SUSPENDED_PROFILE}", {"attrs": item.attrs}))
        queued: set[str] = set()
        for name, (attrs, command) in wanted.items():
            row = have.get(name)
            if command[1] in busy:
                kind_drift.in_flight += 1
                continue
            if row is None:
                kind_drift.missing.append(name)
            elif differences(row, attrs):
                kind_drift.changed.append(name)
            else:
                continue
            if command[1] not in queued:
                queued.add(command[1])
                fixes.append(command)
        referenced = {str(u.get("profile", "")) for u in users}  # RouterOS refuses to remove a profile in use
        for name in sorted(set(have) - set(wanted) - referenced):
            key = f"{menu}:{name}"
            if key not in busy:
                kind_drift.leftover.append(name)
                fixes.append((f"{menu}.remove", key, {"name": name}))
    return fixes


def queue_fixes(router: Router, profile_fixes: list[Command], service_fixes: list[Command]) -> int:
    """Profiles first, one `high` command each; subscriptions one `high` command each when few, bulk beyond."""
    for op, key, payload in profile_fixes:
        outbox.queue_command(router, op, key, payload, Priority.high)
    queue_commands(router, service_fixes, Priority.high if len(service_fixes) <= BULK_OVER else Priority.bulk)
    return len(profile_fixes) + len(service_fixes)

