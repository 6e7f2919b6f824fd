"""What FreeRADIUS holds for vouchers on radius-mode routers, written set-based on `db.session` (flush, never commit).

| what              | table         | rows                                                                       |
|-------------------|---------------|----------------------------------------------------------------------------|
| voucher plan      | radgroupcheck | `isp-vp-<plan id>`: Simultaneous-Use := shared users                        |
|                   | radgroupreply | Mikrotik-Rate-Limit = plan rate, Session-Timeout = validity,               |
|                   |               | Acct-Interim-Interval = 300                                                |
| voucher           | radcheck      | Cleartext-Password :=, Max-All-Session := time quota (the `noresetcounter` |
|                   |               | sqlcounter), Expiration := first login + validity (once it is known)       |
|                   | radreply      | Mikrotik-Total-Limit (+ -Gigawords: bits 32-63) = data quota               |
|                   | radusergroup  | `isp-vp-<plan id>`                                                          |

A batch of 10,000 is a handful of multi-row INSERTs (the codes are new: nothing to delete first). A voucher
that must stop logging in (expired, used up, disabled, deleted) loses every row: FreeRADIUS rejects an unknown
user. The terms come from the batch (frozen at sale), the speed and sharing from the plan's group, so a plan
edit rewrites one group, not every voucher.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select

from isp.extensions import db
from isp.models import HotspotPlan, Voucher, VoucherBatch
from isp.radius.models import RadCheck, RadGroupCheck, RadGroupReply, RadReply, RadUserGroup
from isp.radius.writers import INTERIM_SECONDS, expiration, rate_limit
from isp.sqlutil import chunked

GROUP_PREFIX = "isp-vp-"
WORD = 2**32  # Mikrotik-Total-Limit is 32-bit; the Gigawords twin carries the rest
INSERT_ROWS = 1000  # rows per multi-row INSERT (well under MariaDB's packet and SQLite's variable limits)


def group_name(plan_id: int) -> str:
    """The RADIUS group of a voucher plan."""
    return f"{GROUP_PREFIX}{plan_id}"


def plan_group(plan: HotspotPlan) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """(check rows, reply rows) of a voucher plan's group: sharing, speed, interim interval."""
    checks = [("Simultaneous-Use", ":=", str(max(1, plan.shared_users or 1)))]
    # Session-Timeout = the validity: the router ends a first session (begun before its Expiration was written)
    # when the validity is over even if our workers are down; `expiration` and the time-quota counter lower it.
    replies = [("Session-Timeout", "=", str(plan.validity_seconds)), ("Acct-Interim-Interval", "=", str(INTERIM_SECONDS))]
    if plan.rate_limit and rate_limit(plan.rate_limit):
        replies.insert(0, ("Mikrotik-Rate-Limit", "=", rate_limit(plan.rate_limit)))
    return checks, replies


def write_plan_group(plan: HotspotPlan) -> str | None:
    """Replace the rows of the plan's group (and nothing else); returns the new `Mikrotik-Rate-Limit` when it
    changed (live sessions need a CoA for it), "" when the limit was removed (no CoA can lift it: they must log in
    again), else None."""
    name = group_name(plan.id)
    checks, replies = plan_group(plan)
    before = db.session.scalar(select(RadGroupReply.value).where(RadGroupReply.groupname == name,
                                                                 RadGroupReply.attribute == "Mikrotik-Rate-Limit").limit(1))
    rate = next((v for a, _, v in replies if a == "Mikrotik-Rate-Limit"), None)
    db.session.execute(delete(RadGroupCheck).where(RadGroupCheck.groupname == name))
    db.session.execute(delete(RadGroupReply).where(RadGroupReply.groupname == name))
    db.session.execute(insert(RadGroupCheck), [{"groupname": name, "attribute": a, "op": o, "value": v} for a, o, v in checks])
    db.session.execute(insert(RadGroupReply), [{"groupname": name, "attribute": a, "op": o, "value": v} for a, o, v in replies])
    if rate is None:
        return "" if before is not None else None
    return rate if rate != before else None


def total_limit(data_bytes: int) -> list[tuple[str, str, str]]:
    """A data quota as `Mikrotik-Total-Limit` (low 32 bits) and, above 4 GiB, `-Gigawords` (the high bits)."""
    rows = [("Mikrotik-Total-Limit", "=", str(data_bytes % WORD))]
    if data_bytes >= WORD:
        rows.append(("Mikrotik-Total-Limit-Gigawords", "=", str(data_bytes // WORD)))
    return rows


def voucher_rows(password: str, batch: VoucherBatch, expires_at: datetime | None = None,
                 used_seconds: int = 0, used_bytes: int = 0) -> tuple[list, list]:
    """(check rows, reply rows) of one voucher: password, what is left of its quotas, its expiry once known."""
    checks = [("Cleartext-Password", ":=", password)]
    if batch.time_quota_seconds:
        checks.append(("Max-All-Session", ":=", str(max(1, batch.time_quota_seconds - used_seconds))))
    if expires_at is not None:
        checks.append(("Expiration", ":=", expiration(expires_at)))
    replies = total_limit(max(1, batch.data_quota_bytes - used_bytes)) if batch.data_quota_bytes else []
    return checks, replies


def _insert(model: type, rows: list[dict]) -> None:
    for part in chunked(rows, INSERT_ROWS):
        db.session.execute(insert(model), part)


def add_batch(batch: VoucherBatch, logins: list[tuple[str, str]]) -> int:
    """The rows of a new batch's vouchers (code, password), in multi-row INSERTs; returns how many users."""
    if not logins:
        return 0
    checks, replies = voucher_rows("", batch)
    group = group_name(batch.plan_id)
    _insert(RadCheck, [{"username": code, "attribute": a, "op": o, "value": password if a == "Cleartext-Password" else v}
                       for code, password in logins for a, o, v in checks])
    if replies:
        _insert(RadReply, [{"username": code, "attribute": a, "op": o, "value": v} for code, _ in logins for a, o, v in replies])
    _insert(RadUserGroup, [{"username": code, "groupname": group, "priority": 1} for code, _ in logins])
    return len(logins)


def remove(codes: Iterable[str]) -> None:
    """Every row of these vouchers out: FreeRADIUS rejects them from now on."""
    for part in chunked(sorted(set(codes))):
        for model in (RadCheck, RadReply, RadUserGroup):
            db.session.execute(delete(model).where(model.username.in_(part)))


def rewrite(vouchers: list[Voucher]) -> None:
    """Replace the rows of these vouchers with what they are owed now (password, quota left, expiry)."""
    remove(v.code for v in vouchers)
    checks, replies, groups = [], [], []
    for voucher in vouchers:
        c, r = voucher_rows(voucher.password, voucher.batch, voucher.expires_at, voucher.uptime_seconds or 0,
                            voucher.bytes_total)
        checks += [{"username": voucher.code, "attribute": a, "op": o, "value": v} for a, o, v in c]
        replies += [{"username": voucher.code, "attribute": a, "op": o, "value": v} for a, o, v in r]
        groups.append({"username": voucher.code, "groupname": group_name(voucher.plan_id), "priority": 1})
    for model, rows in ((RadCheck, checks), (RadReply, replies), (RadUserGroup, groups)):
        if rows:
            _insert(model, rows)


def set_expiration(expiries: dict[str, datetime]) -> None:
    """Write (or replace) `Expiration` for these codes, per chunk: one DELETE and one INSERT."""
    for part in chunked(sorted(expiries)):
        db.session.execute(delete(RadCheck).where(RadCheck.username.in_(part), RadCheck.attribute == "Expiration"))
        db.session.execute(insert(RadCheck), [{"username": code, "attribute": "Expiration", "op": ":=",
                                              "value": expiration(expiries[code])} for code in part])


def present_codes(codes: Iterable[str]) -> set[str]:
    """Which of these codes have a password row (one query per 500)."""
    found: set[str] = set()
    for part in chunked(sorted(set(codes))):
        found.update(db.session.scalars(select(RadCheck.username).where(
            RadCheck.username.in_(part), RadCheck.attribute == "Cleartext-Password")))
    return found


def usernames_taken(names: Iterable[str]) -> set[str]:
    """Which of these names any RADIUS user already has (check rows or groups), one query per 500 per table."""
    found: set[str] = set()
    for part in chunked(sorted(set(names))):
        for model in (RadCheck, RadUserGroup):
            found.update(db.session.scalars(select(model.username).where(model.username.in_(part)).distinct()))
    return found


def present(codes: Iterable[str]) -> int:
    """How many of these codes FreeRADIUS can authenticate (they have a password row), one query per 500."""
    total = 0
    for part in chunked(sorted(set(codes))):
        total += db.session.scalar(select(func.count()).select_from(RadCheck).where(
            RadCheck.username.in_(part), RadCheck.attribute == "Cleartext-Password")) or 0
    return total


def expiry_moment(first_login: datetime, validity_seconds: int) -> datetime:
    """When a voucher first used at `first_login` expires."""
    return first_login + timedelta(seconds=validity_seconds)
