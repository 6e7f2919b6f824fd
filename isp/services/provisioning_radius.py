"""The `radius` provisioning back end: routers hold no users, FreeRADIUS answers from rows we write.

`place` writes the subscriptions' rows (isp/radius/writers.py) set-based on `db.session`, in the caller's unit
of work (our database and the radius one commit together), then queues a Disconnect for the users whose live
session must end: every one going absent or suspended, and the rest when the caller asks for a kick. Only
users with an open `radacct` row are disconnected (one query per 500 users), so a billing run that suspends
15,000 services queues commands for those online, not for all.

`push_plan` rewrites the plan's groups (never a user's rows) and, for its subscribers on the router who are
online now, queues a CoA with the new `Mikrotik-Rate-Limit` or a Disconnect (Settings
`radius_plan_change_action`) on `high`. Suspension follows Settings `radius_suspend_action`: "reject" (the
`isp-suspended` group refuses the login) or "walled-garden" (it lets the login in to the `isp-suspended`
address list at a trickle).

The CoA and Disconnect commands themselves are `isp.services.radius_commands`' (`queue_disconnects`,
`queue_coas`: one row each when few, multi-row inserts with chunk jobs when many).
"""
from __future__ import annotations

import logging

from sqlalchemy import select, update

from isp.extensions import db
from isp.models import Priority, Router, RouterMode, ServiceKind, ServicePlan, Subscription, SubscriptionState
from isp.radius import writers
from isp.radius.models import RadUserGroup
from isp.services import branding, radius_commands
from isp.services.provisioning_api import SUSPENDED_RATE
from isp.sqlutil import chunked

log = logging.getLogger(__name__)
S = SubscriptionState
PLAN_CHANGE_ACTIONS = ("coa", "disconnect")


def suspend_action() -> str:
    """Settings `radius_suspend_action`: "reject" or "walled-garden"."""
    value = getattr(branding.get(), "radius_suspend_action", None) or writers.REJECT
    return value if value in writers.SUSPEND_ACTIONS else writers.REJECT


def plan_change_action() -> str:
    """Settings `radius_plan_change_action`: "coa" or "disconnect"."""
    value = getattr(branding.get(), "radius_plan_change_action", None) or "coa"
    return value if value in PLAN_CHANGE_ACTIONS else "coa"


def write_suspended_group() -> int:
    """The `isp-suspended` group as Settings say now (rewritten when the choice changes, and with each suspension).

    Switched to "reject": the walled-garden sessions still open are disconnected (on `critical`), as a suspension
    would; returns the Disconnects queued.
    """
    writers.write_groups(writers.suspended_group(suspend_action(), SUSPENDED_RATE))
    if suspend_action() != writers.REJECT:
        return 0
    members = db.session.scalars(select(RadUserGroup.username).where(RadUserGroup.groupname == writers.SUSPENDED_GROUP))
    live = writers.online(members)
    by_router: dict[int, list[str]] = {}
    for part in chunked(live):
        for username, router_id in db.session.execute(select(Subscription.username, Subscription.router_id).where(
                Subscription.username.in_(part), Subscription.state == S.suspended)).tuples():
            by_router.setdefault(router_id, []).append(username)
    routers = {r.id: r for r in db.session.scalars(select(Router).where(Router.id.in_(sorted(by_router))))} if by_router else {}
    return sum(_disconnect(routers[rid], names, Priority.critical) for rid, names in by_router.items()
               if routers[rid].mode == RouterMode.radius)


def _disconnect(router: Router, usernames: list[str], priority: Priority) -> int:
    return radius_commands.queue_disconnects(router, usernames, priority) if usernames else 0


def _coa(router: Router, changes: dict[str, dict], priority: Priority) -> int:
    return radius_commands.queue_coas(router, changes, priority) if changes else 0


class RadiusBackend:
    """Routers that ask FreeRADIUS: rows in the radius database, CoA and Disconnect through the outbox."""

    def place(self, router: Router, subs: list[Subscription], priority: Priority, kick: bool) -> int:
        """Write the rows of `subs` (a few statements per 500), then disconnect those online that must
        leave or re-login; returns the Disconnects queued."""
        from isp.services import lifecycle  # lifecycle imports provisioning, which imports this module

        users: dict[str, writers.Rows | None] = {}
        plans: dict[int, ServicePlan] = {}
        ending: list[str] = []  # whose live session must end whatever the caller asked
        for sub in subs:
            try:
                users[sub.username] = writers.user_rows(sub, lifecycle.grace_days)
            except ValueError as exc:  # e.g. a password the key no longer opens: one bad row must not stop a billing run
                log.error("subscription %s: %s; its RADIUS rows are not changed", sub.id, exc)
                continue
            if sub.state.served:
                plans[sub.plan_id] = sub.plan
            else:
                ending.append(sub.username)
        if not users:
            return 0
        # Groups are the plan edit's (push_plan) and the Settings' to rewrite; here only the missing ones are made
        # (a plan sold before its router was in radius mode), so syncs of one plan's users do not contend on them.
        groups: dict[str, writers.Rows] = {}
        for plan in plans.values():
            groups.update(writers.plan_groups(plan))
        if any(sub.state == S.suspended for sub in subs):
            groups.update(writers.suspended_group(suspend_action(), SUSPENDED_RATE))
        have = writers.existing_groups(groups)
        writers.write_groups({name: rows for name, rows in groups.items() if name not in have})
        writers.write_users(users)
        targets = list(users) if kick else ending
        if not targets:
            return 0
        live = writers.online(targets)
        leaving = set(ending)  # suspended or absent: ended on `critical` whatever the caller's priority
        return (_disconnect(router, [u for u in live if u in leaving], Priority.critical)
                + _disconnect(router, [u for u in live if u not in leaving], priority))

    def unplace(self, router: Router, kind: ServiceKind, username: str, static_ip: str | None, priority: Priority) -> None:
        """Remove the user's rows and end their sessions on `router` (a move, a new username)."""
        writers.remove_users([username])
        _disconnect(router, [username], Priority.critical)

    def kick(self, sub: Subscription) -> None:
        """One Disconnect on `critical` (asked by staff: sent even if no open accounting row says online)."""
        _disconnect(sub.router, [sub.username], Priority.critical)

    def push_plan(self, plan: ServicePlan, router: Router) -> int:
        """Rewrite the plan's groups, then CoA (or disconnect) its subscribers on `router` online now; returns
        the commands queued."""
        groups = writers.plan_groups(plan)
        fup = writers.fup_group(plan)
        if fup not in groups:  # the cap was dropped: its group goes, and whoever was capped joins the plan's group
            groups[fup] = writers.Rows()
            db.session.execute(update(RadUserGroup).where(RadUserGroup.groupname == fup)
                               .values(groupname=plan.profile_name), execution_options={"synchronize_session": False})
        writers.write_groups(groups)
        members = dict(db.session.execute(select(Subscription.username, Subscription.fup_active).where(
            Subscription.plan_id == plan.id, Subscription.router_id == router.id,
            Subscription.state.in_((S.active, S.grace)))).tuples().all())
        live = writers.online(members)
        if not live:
            return 0
        if plan_change_action() == "disconnect":
            return _disconnect(router, live, Priority.high)
        rates = {False: writers.rate_limit(plan.rate_limit),
                 True: writers.rate_limit(plan.fup_rate_limit if writers.has_fup(plan) else plan.rate_limit)}
        changes = {u: {"Mikrotik-Rate-Limit": rates[bool(members[u])]} for u in live if rates[bool(members[u])]}
        unlimited = [u for u in live if u not in changes]  # no rate to send: the session starts over
        return _coa(router, changes, Priority.high) + _disconnect(router, unlimited, Priority.high)
