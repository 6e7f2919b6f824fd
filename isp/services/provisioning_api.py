"""The `api` provisioning back end: subscriptions held by the router itself, changed through the outbox.

Each subscription's whole desired state on one router is ONE outbox command, `service.apply`: an ordered step
list (profile, then the secret / hotspot user / queue, the address-list entries, kicks last) under the key
`service:<kind>:<username>`, so pending changes collapse into one row and the latest state wins.

- pppoe → /ppp/secret (name, password, service=pppoe, profile, remote-address = static IP, caller-id lock);
- hotspot → /ip/hotspot/user (name, password, profile, mac-address lock, address = static IP);
- static → /queue/simple `isp-<username>` (target IP/32, limits from the plan's rate limit) plus an entry in
  the `isp-active` address list (`isp-suspended` while suspended). A suspended static IP keeps its queue
  ENABLED at a tiny limit (BLOCKED_RATE in "disable" mode, SUSPENDED_RATE in "restrict" mode): a disabled
  queue would lift the limit and leave it unshaped. The block itself is the operator's firewall dropping (or,
  in restrict mode, redirecting to a payment page) `src-address-list=isp-suspended`; the router onboarding
  script of the FreeRADIUS issue adds that rule.

A password never appears in clear in a command: the payload carries the subscription's Fernet token under
`password_sealed`, which only the worker's step opens, right before the API call (`isp.routeros.operations`).

Everything we put there says so in its comment ("isp service …"): that is how reconcile tells it from vouchers
("isp voucher …") and from the operator's own items. A plan's profile is only made if missing by a
subscription's command (`create_only`); its attributes are set by `plan.apply`, one command per router.
"""
from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from flask import current_app
from sqlalchemy import select

from isp import crypto
from isp.extensions import db
from isp.models import Priority, Router, RouterCommand, ServiceKind, ServicePlan, Subscription, SubscriptionState
from isp.routeros.operations import SEALED, plan_mark
from isp.services import branding, outbox
from isp.sqlutil import chunked
from isp.units import format_duration

log = logging.getLogger(__name__)
S = SubscriptionState

SERVICE_TAG = "isp service"  # starts the comment of everything a subscription puts on a router
ACTIVE_LIST, SUSPENDED_LIST = "isp-active", "isp-suspended"
OUR_LISTS = (ACTIVE_LIST, SUSPENDED_LIST)
SUSPENDED_PROFILE = "isp-suspended"
SUSPENDED_RATE = "256k/256k"  # enough for a payment page
BLOCKED_RATE = "1k/1k"  # a suspended static IP's queue in "disable" mode: limited to nothing, never unshaped
OWNED_MENUS = ("ppp_secret", "hotspot_user", "queue")  # changed or removed only where the comment says ours
BULK_OVER = 20  # more subscriptions than this on one router go through the bulk path in chunks
# Where a subscription stands on its router.
ABSENT, SERVED, DISABLED, RESTRICTED = "absent", "served", "disabled", "restricted"


@dataclass(frozen=True)
class Item:
    """One thing a subscription needs on a router: its menu (a MENUS key), its key there, and its attributes
    (None: must be absent). `create_only`: make it if missing, never change it (a plan's profile, whose
    attributes only `push_plan` sets, so a stale command can never undo a plan edit)."""

    kind: str
    key: tuple[str, ...]
    attrs: dict | None = None
    create_only: bool = False


def command_key(kind: ServiceKind, username: str) -> str:
    """Outbox key of a subscription's command set on a router."""
    return f"service:{kind.value}:{username}"


def plan_key(plan_id: int) -> str:
    """Outbox key of a service plan's profiles (or queue limits) on a router."""
    return f"service_plan:{plan_id}"


def queue_name(username: str) -> str:
    """The simple queue of a static subscription."""
    return f"isp-{username}"


def entry_comment(username: str) -> str:
    """The comment of a static subscription's address-list entries (found by it, whatever the IP was)."""
    return f"{SERVICE_TAG} {username}"


def placement(sub: Subscription, suspend_mode: str) -> str:
    """absent, served, disabled or restricted."""
    if sub.state.served:
        return SERVED
    if sub.state == S.suspended:
        return RESTRICTED if suspend_mode == "restrict" else DISABLED
    return ABSENT


# -- rates --------------------------------------------------------------------------------------------------

_RATE_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([kKmMgG]?)\Z")
_TIME_RE = re.compile(r"^([0-9]+)([smh]?)\Z")
_SCALE = {"": 1, "k": 1000, "m": 1000 ** 2, "g": 1000 ** 3}


def _bps(text: str) -> int:
    match = _RATE_RE.match(text)
    if match is None:
        raise ValueError(f"not a rate: {text!r}")
    return int(float(match.group(1)) * _SCALE[match.group(2).lower()])


def _seconds(text: str) -> int:
    match = _TIME_RE.match(text)
    if match is None:
        raise ValueError(f"not a burst time: {text!r}")
    return int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def _pair(text: str, convert: Callable[[str], int]) -> tuple[int, int]:
    first, _, second = text.partition("/")
    return convert(first), convert(second or first)


def queue_limits(rate_limit: str) -> dict:
    """A RouterOS rate-limit ("rx/tx [burst [threshold [time [priority [min]]]]]") as simple-queue attributes,
    printed the way the router prints them (bits as integers), so an unchanged queue compares equal."""
    parts = rate_limit.split()
    attrs = {"max-limit": "0/0", "burst-limit": "0/0", "burst-threshold": "0/0", "burst-time": "0s/0s",
             "priority": "8/8", "limit-at": "0/0"}
    for index, name in ((0, "max-limit"), (1, "burst-limit"), (2, "burst-threshold"), (5, "limit-at")):
        if len(parts) > index:
            attrs[name] = "%d/%d" % _pair(parts[index], _bps)
    if len(parts) > 3:
        attrs["burst-time"] = "%s/%s" % tuple(format_duration(s) for s in _pair(parts[3], _seconds))
    if len(parts) > 4:
        attrs["priority"] = f"{parts[4]}/{parts[4]}"
    return attrs


# -- what the router must hold (api mode) ----------------------------------------------------------------------


def has_fup(plan: ServicePlan) -> bool:
    """True when the plan drops to a fallback rate after its data cap."""
    return bool(plan.data_cap_bytes and plan.fup_rate_limit)


def _profile(plan: ServicePlan, name: str, rate: str) -> Item:
    if plan.kind == ServiceKind.pppoe:
        attrs = {"name": name, "rate-limit": rate, "only-one": "yes" if plan.shared_users <= 1 else "no"}
        if plan.address_pool:
            attrs["remote-address"] = plan.address_pool
        return Item("ppp_profile", (name,), attrs)
    attrs = {"name": name, "rate-limit": rate, "shared-users": str(plan.shared_users)}
    if plan.address_pool:
        attrs["address-pool"] = plan.address_pool
    return Item("hotspot_profile", (name,), attrs)


def profile_items(plan: ServicePlan) -> list[Item]:
    """The plan's profile and its FUP variant (static plans have none: their limits live on each queue)."""
    if plan.kind == ServiceKind.static:
        return []
    items = [_profile(plan, plan.profile_name, plan.rate_limit)]
    if has_fup(plan):
        items.append(_profile(plan, plan.fup_profile_name, plan.fup_rate_limit))
    return items


def suspended_profile(kind: ServiceKind) -> Item:
    """The restricted profile suspended subscribers are moved to in "restrict" mode."""
    if kind == ServiceKind.pppoe:
        return Item("ppp_profile", (SUSPENDED_PROFILE,), {"name": SUSPENDED_PROFILE, "rate-limit": SUSPENDED_RATE,
                                                           "address-list": SUSPENDED_LIST, "only-one": "yes"})
    return Item("hotspot_profile", (SUSPENDED_PROFILE,), {"name": SUSPENDED_PROFILE, "rate-limit": SUSPENDED_RATE})


def _sealed(sub: Subscription) -> str:
    """The password as its Fernet token (what a payload carries), checked to open now so a bad one is caught
    here (ValueError) rather than in the worker."""
    if not sub.password_encrypted:
        return ""
    crypto.decrypt(sub.password_encrypted)
    return sub.password_encrypted


def opened(attrs: dict) -> dict:
    """`attrs` with a sealed password opened, for comparing with what a router holds (never stored)."""
    if SEALED not in attrs:
        return attrs
    out = {k: v for k, v in attrs.items() if k != SEALED}
    out["password"] = crypto.decrypt(attrs[SEALED]) if attrs[SEALED] else ""
    return out


def desired(sub: Subscription, suspend_mode: str) -> list[Item]:
    """Everything `sub` needs on its router in its current state, in the order it must be applied."""
    where = placement(sub, suspend_mode)
    if sub.kind == ServiceKind.static:
        return _static(sub, where)
    menu = "ppp_secret" if sub.kind == ServiceKind.pppoe else "hotspot_user"
    if where == ABSENT:
        return [Item(menu, (sub.username,), None)]
    if where == RESTRICTED:
        profile = suspended_profile(sub.kind)
    else:
        profiles = profile_items(sub.plan)
        profile = replace(profiles[-1] if sub.fup_active and has_fup(sub.plan) else profiles[0], create_only=True)
    attrs = {"name": sub.username, SEALED: _sealed(sub), "profile": profile.key[0],
             "comment": f"{SERVICE_TAG} {sub.customer.account_no}", "disabled": "yes" if where == DISABLED else "no"}
    if sub.kind == ServiceKind.pppoe:
        attrs.update({"service": "pppoe", "caller-id": sub.caller_id or "", "remote-address": sub.static_ip or ""})
    else:
        attrs.update({"server": "all", "mac-address": sub.caller_id or "", "address": sub.static_ip or ""})
    return [profile, Item(menu, (sub.username,), attrs)]


def _static(sub: Subscription, where: str) -> list[Item]:
    name = queue_name(sub.username)
    if where == ABSENT or not sub.static_ip:
        return [Item("queue", (name,), None)]
    plan, variant = sub.plan, ""
    rate = plan.rate_limit
    if where in (RESTRICTED, DISABLED):  # a disabled queue would leave the IP unshaped: keep it, nearly closed
        rate, variant = (SUSPENDED_RATE if where == RESTRICTED else BLOCKED_RATE), "restricted"
    elif sub.fup_active and has_fup(plan):
        rate, variant = plan.fup_rate_limit, "fup"
    queue = {"name": name, "target": f"{sub.static_ip}/32", **queue_limits(rate),
             "comment": f"{SERVICE_TAG} {sub.customer.account_no}{plan_mark(plan.id, variant)}", "disabled": "no"}
    listed = ACTIVE_LIST if where == SERVED else SUSPENDED_LIST
    entry = {"list": listed, "address": sub.static_ip, "comment": entry_comment(sub.username)}
    return [Item("queue", (name,), queue), Item("address_list", (listed, sub.static_ip), entry)]


def _kick_step(kind: ServiceKind, username: str) -> list | None:
    if kind == ServiceKind.static:
        return None  # a static IP has no session to end: the queue and lists take effect at once
    return ["ppp_active.kick" if kind == ServiceKind.pppoe else "hotspot_active.kick", {"name": username, "owner": SERVICE_TAG}]


def steps(kind: ServiceKind, username: str, items: list[Item], kick: bool) -> list[list]:
    """The `service.apply` step list for `items`: ensures and removals in order, address lists, kicks last.

    The secret, hotspot user or queue (never a shared profile) carries `owner`: the router changes or removes
    it only when its comment says it is ours, and the step fails on a row of that name that is not.
    """
    out: list[list] = []
    for item in items:
        if item.kind == "address_list":
            continue
        owner = {"owner": SERVICE_TAG} if item.kind in OWNED_MENUS else {}
        if item.attrs is None:
            out.append([f"{item.kind}.remove", {"name": item.key[0], **owner}])
        else:
            out.append([f"{item.kind}.ensure", {"attrs": item.attrs, **owner,
                                                **({"create_only": True} if item.create_only else {})}])
    if kind == ServiceKind.static:
        entries = [item.attrs for item in items if item.kind == "address_list" and item.attrs is not None]
        out.append(["address_list.own", {"comment": entry_comment(username), "entries": entries}])
    step = _kick_step(kind, username) if kick else None
    if step is not None:
        out.append(step)
    return out


# -- commands -------------------------------------------------------------------------------------------------

Command = tuple[str, str, dict]  # (operation, idempotency key, payload), as outbox.queue_bulk takes them


def apply_command(sub: Subscription, suspend_mode: str, kick: bool = False, items: list[Item] | None = None) -> Command:
    """The `service.apply` command holding `sub`'s whole desired state; where no session may live (absent,
    disabled) the kick is always part of it."""
    where = placement(sub, suspend_mode)
    kick = kick or where in (ABSENT, DISABLED)
    items = desired(sub, suspend_mode) if items is None else items
    return ("service.apply", command_key(sub.kind, sub.username),
            {"state": where, "kick": kick, "steps": steps(sub.kind, sub.username, items, kick)})


def removal_command(kind: ServiceKind, username: str) -> Command:
    """Everything of one subscription off a router, and a kick, under its own key there (a static IP's
    address-list entries go by their comment, whatever the IP was)."""
    menu = {ServiceKind.pppoe: "ppp_secret", ServiceKind.hotspot: "hotspot_user"}.get(kind, "queue")
    name = queue_name(username) if kind == ServiceKind.static else username
    return ("service.apply", command_key(kind, username),
            {"state": ABSENT, "kick": True, "steps": steps(kind, username, [Item(menu, (name,), None)], True)})


def queue_commands(router: Router, commands: list[Command], priority: Priority) -> int:
    """One `queue_command` each when few; bulk chunk jobs (at `priority`) beyond BULK_OVER."""
    if len(commands) <= BULK_OVER:
        for op, key, payload in commands:
            outbox.queue_command(router, op, key, payload, priority)
    elif commands:
        outbox.queue_bulk(router, commands, f"services:{router.id}:{int(time.time())}", current_app.config["BULK_CHUNK"],
                          priority)
    return len(commands)


def pending_kicks(router: Router, keys: list[str]) -> set[str]:
    """Keys whose still-pending command set carries a kick (one query per 500 keys)."""
    found: set[str] = set()
    for part in chunked(sorted(set(keys))):
        for key, payload in db.session.execute(select(RouterCommand.idempotency_key, RouterCommand.payload_json).where(
                RouterCommand.router_id == router.id, RouterCommand.idempotency_key.in_(part),
                RouterCommand.open_key.is_not(None), RouterCommand.operation == "service.apply")).tuples():
            if json.loads(payload or "{}").get("kick"):
                found.add(key)
    return found


def plan_command(plan: ServicePlan) -> Command:
    """`plan.apply`: the plan's profiles ensured, or for a static plan its limits re-applied to its marked queues."""
    if plan.kind == ServiceKind.static:
        limits = {"": queue_limits(plan.rate_limit)}
        if has_fup(plan):
            limits["fup"] = queue_limits(plan.fup_rate_limit)
        plan_steps = [["queue.retune", {"plan_id": plan.id, "limits": limits}]]
    else:
        plan_steps = [[f"{item.kind}.ensure", {"attrs": item.attrs}] for item in profile_items(plan)]
    return ("plan.apply", plan_key(plan.id), {"steps": plan_steps})


# -- the back end -----------------------------------------------------------------------------------------------


class ApiBackend:
    """Routers that hold the users: everything through the outbox, one command per subscription per router."""

    def place(self, router: Router, subs: list[Subscription], priority: Priority, kick: bool) -> int:
        """Queue one `service.apply` per subscription: one row each when few, bulk chunks beyond BULK_OVER."""
        mode = branding.get().suspend_mode
        # A kick already asked for survives a newer change collapsing into its pending row.
        kicking = pending_kicks(router, [command_key(sub.kind, sub.username) for sub in subs])
        commands = []
        for sub in subs:
            try:
                commands.append(apply_command(sub, mode, kick or command_key(sub.kind, sub.username) in kicking))
            except ValueError as exc:  # e.g. a password the key no longer opens: one bad row must not stop a billing run
                log.error("subscription %s: %s; its router change is skipped", sub.id, exc)
        return queue_commands(router, commands, priority)

    def unplace(self, router: Router, kind: ServiceKind, username: str, static_ip: str | None, priority: Priority) -> None:
        """Queue `removal_command` on `router`."""
        outbox.queue_command(router, *removal_command(kind, username), priority)

    def kick(self, sub: Subscription) -> None:
        """One kick command on `critical` (its own key: it must not replace a pending change)."""
        step = _kick_step(sub.kind, sub.username)
        if step is not None:
            outbox.queue_command(sub.router, step[0], f"kick:{sub.kind.value}:{sub.username}", step[1], Priority.critical)

    def push_plan(self, plan: ServicePlan, router: Router) -> int:
        """Queue `plan_command` on `router` (collapsing into a pending one for the same plan)."""
        outbox.queue_command(router, *plan_command(plan), Priority.high)
        return 1
