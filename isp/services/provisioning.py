"""Where a subscription lives: one interface, a back end per router mode.

`api` routers hold the users themselves (PPP secrets, hotspot users, simple queues and address lists, all
through the outbox); `radius` routers ask FreeRADIUS (the RADIUS capability adds that back end). Callers
(subscriptions, lifecycle, billing) never know which: they say what state a subscription is in, and this
module queues what its router must hold.

(Interface fixed; the api back end is being filled in by the router work.)
"""
from __future__ import annotations

from isp.models import Priority, Router, ServiceKind, ServicePlan, Subscription


def sync(sub: Subscription, priority: Priority = Priority.high, kick: bool = False) -> None:
    """Queue what `sub.router` must hold for the subscription's current state, as one command set.

    pending/terminated → absent; active/grace → enabled on the plan's profile (its FUP profile when
    `sub.fup_active`); suspended → per Settings `suspend_mode` ("disable": disabled, static IP listed in
    `isp-suspended`; "restrict": the `isp-suspended` profile / address list). `kick=True` also disconnects
    the live sessions, after the change, in the same command.
    """


def sync_many(sub_ids: list[int], priority: Priority = Priority.critical, kick: bool = False) -> int:
    """`sync` for many subscriptions at once (the billing run): set-based, one bulk queue per router."""
    return 0


def unplace(router: Router, kind: ServiceKind, username: str, static_ip: str | None,
            priority: Priority = Priority.high) -> None:
    """Remove everything a subscription put on `router` (router move, username change, termination) and kick it."""


def kick(sub: Subscription) -> None:
    """Disconnect the subscription's live sessions now, on `critical`."""


def push_plan(plan: ServicePlan, routers: list[Router] | None = None) -> int:
    """Ensure the plan's profile (and FUP variant) on each of its routers: one command per router, not per user."""
    return 0
