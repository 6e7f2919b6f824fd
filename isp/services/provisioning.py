"""Where a subscription lives: one interface, a back end per router mode.

Callers (subscriptions, lifecycle, billing, reconcile) never know where users are stored: they say what state a
subscription is in (`sync`, `sync_many`, `place`), where it no longer lives (`unplace`), that its sessions must
end (`kick`) or that a plan changed (`push_plan`), and the back end chosen by `router.mode` queues what the
router must hold. A back end is any object with `place`, `unplace`, `kick` and `push_plan` (the `Backend`
protocol) registered in `BACKENDS` under its `RouterMode`:

- `api` (`isp/services/provisioning_api.py`): the router holds the users (PPP secrets, hotspot users, simple
  queues and address lists), one `service.apply` outbox command per subscription per router.
- `radius` (`isp/services/provisioning_radius.py`): nothing on the router. FreeRADIUS answers from the rows
  written set-based in the caller's unit of work (isp/radius/writers.py: plan → group, subscription →
  radcheck / radreply / radusergroup, suspended → the `isp-suspended` group); live sessions get a Disconnect
  or a CoA through the outbox.

States: pending/terminated → absent (and kicked); active/grace → enabled on the plan's profile (its FUP variant
when `fup_active`); suspended → Settings `suspend_mode`: "disable" (disabled, static IP listed in
`isp-suspended` instead of `isp-active`, queue disabled, kicked) or "restrict" (the `isp-suspended` profile,
ensured in the same command; static IP in `isp-suspended`, queue at the restricted rate).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Protocol

from sqlalchemy import select

from isp.extensions import db
from isp.models import Priority, Router, RouterMode, ServiceKind, ServicePlan, Subscription, SubscriptionState
from isp.services.provisioning_api import ApiBackend
from isp.services.provisioning_radius import RadiusBackend
from isp.sqlutil import chunked


class Backend(Protocol):
    """What a router mode does with subscriptions."""

    def place(self, router: Router, subs: list[Subscription], priority: Priority, kick: bool) -> int:
        """Queue the current state of `subs` (all on `router`); returns the commands queued."""

    def unplace(self, router: Router, kind: ServiceKind, username: str, static_ip: str | None, priority: Priority) -> None:
        """Queue the removal of everything one subscription put on `router`, and a kick."""

    def kick(self, sub: Subscription) -> None:
        """Queue the end of the subscription's live sessions."""

    def push_plan(self, plan: ServicePlan, router: Router) -> int:
        """Queue the plan's profiles (or queue limits) on `router`; returns the commands queued."""


class NoBackend:
    """A mode whose back end is not installed: nothing is queued."""

    def place(self, router: Router, subs: list[Subscription], priority: Priority, kick: bool) -> int:
        """Nothing to queue."""
        return 0

    def unplace(self, router: Router, kind: ServiceKind, username: str, static_ip: str | None, priority: Priority) -> None:
        """Nothing to remove."""

    def kick(self, sub: Subscription) -> None:
        """Nothing to kick."""

    def push_plan(self, plan: ServicePlan, router: Router) -> int:
        """Nothing to push."""
        return 0


BACKENDS: dict[RouterMode, Backend] = {RouterMode.api: ApiBackend(), RouterMode.radius: RadiusBackend()}


def backend(router: Router, kind: ServiceKind | None = None) -> Backend:
    """The back end serving `router`'s mode for services of `kind`.

    A static-IP service is always the router's own (a simple queue and address lists over the API): nothing logs in,
    so there is nothing for RADIUS to answer, and only the router can shape and cut it.
    """
    if kind == ServiceKind.static:
        return BACKENDS[RouterMode.api]
    return BACKENDS.get(router.mode, NoBackend())


# -- the interface ----------------------------------------------------------------------------------------------


def sync(sub: Subscription, priority: Priority = Priority.high, kick: bool = False) -> None:
    """Queue what `sub.router` must hold for the subscription's current state, as one command set.

    pending/terminated → absent; active/grace → enabled on the plan's profile (its FUP profile when
    `sub.fup_active`); suspended → per Settings `suspend_mode` ("disable": disabled, static IP listed in
    `isp-suspended`; "restrict": the `isp-suspended` profile / address list). `kick=True` also disconnects
    the live sessions, after the change, in the same command.
    """
    backend(sub.router, sub.kind).place(sub.router, [sub], priority, kick)


def place(subs: list[Subscription], priority: Priority, kick: bool = False) -> int:
    """`sync` for subscriptions already loaded (reconcile, the billing run): grouped by router, one call each."""
    by_router: dict[tuple[int, bool], list[Subscription]] = defaultdict(list)
    for sub in subs:
        by_router[(sub.router_id, sub.kind == ServiceKind.static)].append(sub)
    return sum(backend(group[0].router, group[0].kind).place(group[0].router, group, priority, kick)
               for group in by_router.values())


def sync_many(sub_ids: list[int], priority: Priority = Priority.critical, kick: bool = False) -> int:
    """`sync` for many subscriptions at once (the billing run): set-based, one bulk queue per router."""
    subs: list[Subscription] = []
    for part in chunked(sorted(set(sub_ids))):
        # Plan, router and customer come joined in (the relationships are lazy="joined"): one query per 500.
        subs.extend(db.session.scalars(select(Subscription).where(Subscription.id.in_(part))).unique())
    return place(subs, priority, kick)


def refresh_expiry(sub_ids: list[int]) -> int:
    """Paid time moved without a state change (a renewal): back ends that hold an expiry rewrite it.

    Only radius-mode routers hold one (`Expiration` = paid_until + grace, which FreeRADIUS enforces by itself);
    api-mode routers keep serving until the state changes, so nothing is queued for them. Set-based like
    `sync_many`: a few statements per 500 services, no kick.
    """
    ids: list[int] = []
    for part in chunked(sorted(set(sub_ids))):
        ids += db.session.scalars(select(Subscription.id).join(Router, Router.id == Subscription.router_id).where(
            Subscription.id.in_(part), Router.mode == RouterMode.radius, Subscription.kind != ServiceKind.static))
    return sync_many(ids, Priority.normal) if ids else 0


def mode_changed(router: Router, previous: RouterMode) -> int:
    """A router switched mode (api <-> radius): what the old back end held goes, the new one gets every plan's
    profile or group and every live subscription on it, set-based; returns the commands queued.

    From api: the users come off the router (bulk removal commands, each with its kick, so sessions come back
    through RADIUS). From radius: the rows go (FreeRADIUS no longer answers for them) and the router is given
    its users by `service.apply`. Call it in the unit of work that changes `router.mode`.
    """
    if previous == router.mode:
        return 0
    live = (Subscription.router_id == router.id, Subscription.state != SubscriptionState.terminated)
    # Static-IP services stay with the router whatever its mode (see `backend`): they do not move.
    rows = db.session.execute(select(Subscription.id, Subscription.kind, Subscription.username).where(
        *live, Subscription.kind != ServiceKind.static)).all()
    queued = 0
    if previous == RouterMode.api:
        from isp.services import provisioning_api

        queued += provisioning_api.queue_commands(
            router, [provisioning_api.removal_command(kind, username) for _id, kind, username in rows], Priority.normal)
    else:
        from isp.radius import writers

        writers.remove_users(username for _id, _kind, username in rows)
    plans = set(db.session.scalars(select(Subscription.plan_id).where(*live).distinct()))
    plans |= set(db.session.scalars(select(ServicePlan.id).where(ServicePlan.routers.any(Router.id == router.id))))
    for plan in db.session.scalars(select(ServicePlan).where(ServicePlan.id.in_(sorted(plans)))) if plans else []:
        if plan.kind != ServiceKind.static:
            queued += backend(router, plan.kind).push_plan(plan, router)
    return queued + sync_many([row[0] for row in rows], Priority.normal)


def unplace(router: Router, kind: ServiceKind, username: str, static_ip: str | None,
            priority: Priority = Priority.high) -> None:
    """Remove everything a subscription put on `router` (router move, username change, termination) and kick it."""
    backend(router, kind).unplace(router, kind, username, static_ip, priority)


def kick(sub: Subscription) -> None:
    """Disconnect the subscription's live sessions now, on `critical`."""
    backend(sub.router, sub.kind).kick(sub)


def push_plan(plan: ServicePlan, routers: list[Router] | None = None) -> int:
    """Ensure the plan's profile (and FUP variant) on each of its routers: one command per router, not per user.

    By default: the routers it is sold on and those its subscribers live on.
    """
    if routers is None:
        routers = list(plan.routers)
        live = (Subscription.plan_id == plan.id, Subscription.state != SubscriptionState.terminated)
        elsewhere = set(db.session.scalars(select(Subscription.router_id).where(*live).distinct())) - {r.id for r in routers}
        if elsewhere:  # subscribers kept on a router the plan is no longer sold on still need its profile
            routers += list(db.session.scalars(select(Router).where(Router.id.in_(sorted(elsewhere)))))
    return sum(backend(router, plan.kind).push_plan(plan, router) for router in routers)
