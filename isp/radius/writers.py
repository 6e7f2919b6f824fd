"""What FreeRADIUS must hold for our plans and subscriptions: one place per mapping, written set-based.

Each mapping is a pure function from our objects to rows (`plan_groups`, `suspended_group`, `user_rows`), and
two writers replace rows by name in a few statements on `db.session` (`write_groups`, `write_users`): per
chunk of 500 names one DELETE and one multi-row INSERT per table. They flush at most, never commit: the
caller's unit of work commits our database and the radius one together.

| state                | radcheck (op)                                | radreply            | radusergroup      |
|----------------------|----------------------------------------------|---------------------|-------------------|
| active / grace       | Cleartext-Password :=, Expiration :=         | Framed-IP-Address = | plan group (its   |
|                      | (paid_until + grace, in grace grace_until),  | (static IP)         | -fup when capped) |
|                      | Calling-Station-Id ==                        |                     |                   |
| suspended            | Cleartext-Password :=, Calling-Station-Id == | Framed-IP-Address = | isp-suspended     |
| pending / terminated | (none)                                       | (none)              | (none)            |

A plan's group is named after its router profile (`isp-svc-<slug>`, fixed at creation), so a plan edit
rewrites group rows only. `Calling-Station-Id` is a comparison (`==`), not an assignment: `:=` would set it
rather than check it. A suspended service has no `Expiration`: in the walled-garden mode it must still log in,
and in reject mode its group refuses it anyway.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert, select

from isp import crypto
from isp.extensions import db
from isp.models import ServicePlan, Subscription, SubscriptionState
from isp.radius import server_zone
from isp.radius.models import RadAcct, RadCheck, RadGroupCheck, RadGroupReply, RadReply, RadUserGroup
from isp.sqlutil import chunked
from isp.units import check_rate_limit

S = SubscriptionState
SUSPENDED_GROUP = "isp-suspended"
# Suspension policies (Settings `radius_suspend_action`): refuse the login, or let it in to a walled garden.
REJECT, WALLED_GARDEN = "reject", "walled-garden"
SUSPEND_ACTIONS = (REJECT, WALLED_GARDEN)
WALLED_LIST = "isp-suspended"  # the router's firewall sends this address list to the payment page
INTERIM_SECONDS = 300  # Acct-Interim-Interval: at least 60 s (RFC 2869), 5 minutes keeps radacct fresh enough
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass
class Rows:
    """Check and reply rows (attribute, op, value) for one user or group, and a user's groups."""

    checks: list[tuple[str, str, str]] = field(default_factory=list)
    replies: list[tuple[str, str, str]] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)


# -- values ---------------------------------------------------------------------------------------------------


def expiration(moment: datetime) -> str:
    """An `Expiration` value ("23 Sep 2026 12:00:00") in the zone FreeRADIUS parses it in (`server_zone()`, RADIUS_TIMEZONE:
    UTC by default, as our private server runs with TZ=UTC). A naive `moment` is UTC, as every stored time is.

    Month names are spelled here, not by strftime's %b, which follows the process locale.
    """
    moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(server_zone())
    return f"{moment.day:02d} {MONTHS[moment.month - 1]} {moment.year} {moment:%H:%M:%S}"


def rate_limit(text: str) -> str:
    """A plan's rate limit as `Mikrotik-Rate-Limit` ("rx/tx [burst [threshold [time [priority [min]]]]]"):
    the RouterOS notation plans are stored in, checked and normalised by the same function as the plan form."""
    return check_rate_limit(text)


def fup_group(plan: ServicePlan) -> str:
    """The group of a plan's after-the-cap variant (the FUP profile's name)."""
    return plan.fup_profile_name


def has_fup(plan: ServicePlan) -> bool:
    """True when the plan drops to a fallback rate after its data cap."""
    return bool(plan.data_cap_bytes and plan.fup_rate_limit)


# -- plan → groups ----------------------------------------------------------------------------------------------


def _group(plan: ServicePlan, rate: str) -> Rows:
    rows = Rows(checks=[("Simultaneous-Use", ":=", str(max(1, plan.shared_users or 1)))])
    if rate_limit(rate):
        rows.replies.append(("Mikrotik-Rate-Limit", "=", rate_limit(rate)))
    rows.replies.append(("Acct-Interim-Interval", "=", str(INTERIM_SECONDS)))
    if plan.address_pool:
        rows.replies.append(("Framed-Pool", "=", plan.address_pool))
    return rows


def plan_groups(plan: ServicePlan) -> dict[str, Rows]:
    """The plan's group (`isp-svc-<slug>`) and, when it has a data cap, its FUP group (`…-fup`)."""
    groups = {plan.profile_name: _group(plan, plan.rate_limit)}
    if has_fup(plan):
        groups[fup_group(plan)] = _group(plan, plan.fup_rate_limit)
    return groups


def suspended_group(action: str, walled_rate: str) -> dict[str, Rows]:
    """`isp-suspended`: `Auth-Type := Reject` ("reject"), or the walled garden ("walled-garden"): the session's
    address goes into the `isp-suspended` address list at `walled_rate`."""
    if action == WALLED_GARDEN:
        return {SUSPENDED_GROUP: Rows(replies=[("Mikrotik-Address-List", "=", WALLED_LIST),
                                               ("Mikrotik-Rate-Limit", "=", rate_limit(walled_rate)),
                                               ("Acct-Interim-Interval", "=", str(INTERIM_SECONDS))])}
    return {SUSPENDED_GROUP: Rows(checks=[("Auth-Type", ":=", "Reject")])}


# -- subscription → user rows --------------------------------------------------------------------------------


def served_group(sub: Subscription) -> str:
    """The group a served subscription belongs to: its plan's, or the FUP variant while capped."""
    return fup_group(sub.plan) if sub.fup_active and has_fup(sub.plan) else sub.plan.profile_name


def user_rows(sub: Subscription, grace_days: Callable[[Subscription], int]) -> Rows | None:
    """What `sub` must hold in its state; None when it must hold nothing (pending, terminated).

    Raises ValueError when its password no longer opens (the caller logs and skips it).
    """
    if sub.state not in (S.active, S.grace, S.suspended):
        return None
    rows = Rows(checks=[("Cleartext-Password", ":=", crypto.decrypt(sub.password_encrypted) if sub.password_encrypted else "")])
    if sub.state.served:
        # In grace the moment was fixed when grace began (grace_until: what the billing run suspends at).
        ends = sub.grace_until if sub.state == S.grace and sub.grace_until else (
            sub.paid_until + timedelta(days=grace_days(sub)) if sub.paid_until else None)
        if ends is not None:
            rows.checks.append(("Expiration", ":=", expiration(ends)))
        rows.groups.append(served_group(sub))
    else:
        rows.groups.append(SUSPENDED_GROUP)
    if sub.caller_id:
        rows.checks.append(("Calling-Station-Id", "==", sub.caller_id.upper()))
    if sub.static_ip:
        rows.replies.append(("Framed-IP-Address", "=", sub.static_ip))
    return rows


# -- writers ----------------------------------------------------------------------------------------------------


def write_groups(groups: dict[str, Rows]) -> None:
    """Replace the rows of these groups (and nothing else): one DELETE and one INSERT per table."""
    if not groups:
        return
    names = sorted(groups)
    db.session.execute(delete(RadGroupCheck).where(RadGroupCheck.groupname.in_(names)))
    db.session.execute(delete(RadGroupReply).where(RadGroupReply.groupname.in_(names)))
    checks = [{"groupname": n, "attribute": a, "op": o, "value": v} for n in names for a, o, v in groups[n].checks]
    replies = [{"groupname": n, "attribute": a, "op": o, "value": v} for n in names for a, o, v in groups[n].replies]
    if checks:
        db.session.execute(insert(RadGroupCheck), checks)
    if replies:
        db.session.execute(insert(RadGroupReply), replies)


def existing_groups(names: Iterable[str]) -> set[str]:
    """Which of these groups have any row (two index reads), so callers write only the missing ones."""
    names = sorted(set(names))
    if not names:
        return set()
    found = set(db.session.scalars(select(RadGroupCheck.groupname).where(RadGroupCheck.groupname.in_(names)).distinct()))
    return found | set(db.session.scalars(select(RadGroupReply.groupname).where(RadGroupReply.groupname.in_(names))
                                          .distinct()))


def write_users(users: dict[str, Rows | None]) -> None:
    """Replace every row of these usernames (None: remove them), per chunk of 500: one DELETE and one
    multi-row INSERT per table, whatever the number of users."""
    for part in chunked(sorted(users)):
        for model in (RadCheck, RadReply, RadUserGroup):
            db.session.execute(delete(model).where(model.username.in_(part)))
        present = [(name, users[name]) for name in part if users[name] is not None]
        checks = [{"username": n, "attribute": a, "op": o, "value": v} for n, r in present for a, o, v in r.checks]
        replies = [{"username": n, "attribute": a, "op": o, "value": v} for n, r in present for a, o, v in r.replies]
        groups = [{"username": n, "groupname": g, "priority": i} for n, r in present for i, g in enumerate(r.groups, 1)]
        for model, values in ((RadCheck, checks), (RadReply, replies), (RadUserGroup, groups)):
            if values:
                db.session.execute(insert(model), values)


def remove_users(usernames: Iterable[str]) -> None:
    """Take every row of these users out (pending, terminated, moved away)."""
    write_users(dict.fromkeys(usernames))


WHOLE_READ_OVER = 2_000  # more names than this: read every open session once instead of IN lists


def online(usernames: Iterable[str]) -> list[str]:
    """Which of these users have an open accounting session (`acctstoptime IS NULL`).

    One query per 500 names; for thousands of names, one read of every open session (bounded by how many are
    online, off the `acctstoptime` index) is cheaper than the name lookups.
    """
    names = set(usernames)
    open_rows = select(RadAcct.username).where(RadAcct.acctstoptime.is_(None))
    if len(names) > WHOLE_READ_OVER:
        return sorted(names.intersection(db.session.scalars(open_rows)))
    found: set[str] = set()
    for part in chunked(sorted(names)):
        found.update(db.session.scalars(open_rows.where(RadAcct.username.in_(part)).distinct()))
    return sorted(found)
