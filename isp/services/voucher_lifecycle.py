"""Voucher lifecycle enforced by us: first login, usage, quotas, expiry, and staff actions."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import insert, select

from isp.extensions import db
from isp.models import EntryKind, Priority, Role, Router, User, Voucher, VoucherEvent, VoucherState
from isp.models.base import utcnow
from isp.services import audit, branding, job_problems, ledger, outbox, vouchers_radius
from isp.services.errors import ServiceError
from isp.services.vouchers import user_attrs
from isp.sqlutil import chunked
from isp.units import MAX_DURATION, format_duration

LIVE = (VoucherState.unused, VoucherState.active)
BULK_OVER = 50  # actions on more vouchers than this go through the bulk queue in chunks


def transition(vouchers: list[Voucher], to_state: VoucherState, note: str, actor: User | None = None,
               now: datetime | None = None) -> None:
    """Move vouchers to a state and record each change (events inserted in one statement)."""
    now = now or utcnow()
    events = []
    for voucher in vouchers:
        if voucher.state == to_state:
            continue
        events.append({"voucher_id": voucher.id, "from_state": voucher.state.value, "to_state": to_state.value,
                       "note": note, "actor_id": actor.id if actor else None, "at": now})
        voucher.state, voucher.state_changed_at = to_state, now
    db.session.flush()
    if events:
        db.session.execute(insert(VoucherEvent), events)


def note_event(voucher: Voucher, note: str, actor: User | None = None) -> None:
    """Record a moment that is not a state change (e.g. an extension)."""
    db.session.add(VoucherEvent(voucher_id=voucher.id, from_state=voucher.state.value, to_state=voucher.state.value,
                                note=note, actor_id=actor.id if actor else None))


def _queue(vouchers: list[Voucher], op: str, payload_of: Callable[[Voucher], dict], priority: Priority) -> None:
    """Queue one router command per voucher: individually when few or urgent, in bulk chunks otherwise."""
    by_router: dict[int, list[Voucher]] = {}
    for voucher in vouchers:
        by_router.setdefault(voucher.router_id, []).append(voucher)
    for router_id, group in by_router.items():
        router = db.session.get(Router, router_id)
        if router.mode.value != "api":
            continue
        if len(group) > BULK_OVER:  # chunk jobs on the same queue (bulk, or critical for a mass expiry)
            items = [(op, v.command_key, payload_of(v)) for v in group]
            outbox.queue_bulk(router, items, f"voucher-action:{utcnow():%Y%m%d%H%M%S}", current_app.config["BULK_CHUNK"],
                              Priority.critical if priority == Priority.critical else Priority.bulk)
        else:
            for voucher in group:
                outbox.queue_command(router, op, voucher.command_key, payload_of(voucher), priority)


def retire(vouchers: list[Voucher], priority: Priority, action: str | None = None) -> None:
    """Remove (or disable) the router users and kick their sessions."""
    action = action or branding.get().expiry_action
    _queue(vouchers, "hotspot_user.retire", lambda v: {"name": v.code, "action": action}, priority)
    vouchers_radius.retire([v for v in vouchers if vouchers_radius.is_radius(v)])  # rows out, Disconnect on critical


def remaining_attrs(voucher: Voucher) -> dict:
    """The router user with only the quota still unused: a user re-created after removal starts its counters at zero."""
    attrs = user_attrs(voucher.code, voucher.password, voucher.batch)
    batch = voucher.batch
    if batch.time_quota_seconds and voucher.uptime_seconds:
        attrs["limit-uptime"] = format_duration(max(1, batch.time_quota_seconds - voucher.uptime_seconds))
    if batch.data_quota_bytes and voucher.bytes_total:
        attrs["limit-bytes-total"] = str(max(1, batch.data_quota_bytes - voucher.bytes_total))
    return attrs


def restore(vouchers: list[Voucher], priority: Priority = Priority.high) -> None:
    """Make the router users exist and be enabled again, with the quota they have left."""
    _queue(vouchers, "hotspot_user.ensure", lambda v: {"attrs": remaining_attrs(v)}, priority)
    vouchers_radius.restore([v for v in vouchers if vouchers_radius.is_radius(v)])


# -- driven by the clock and the usage poll ------------------------------------

def _subject(voucher: Voucher) -> str:
    return f"voucher {voucher.code} (#{voucher.id})"


def expire_due(now: datetime | None = None, limit: int = 2000) -> int:
    """Expire active vouchers whose validity has ended and retire them on the critical queue.

    A voucher that cannot be expired is recorded (Monitoring shows it) and the others are expired all the same.
    """
    now = now or utcnow()
    due = list(db.session.scalars(select(Voucher).where(
        Voucher.state == VoucherState.active, Voucher.expires_at <= now).order_by(Voucher.expires_at).limit(limit)))

    def expire(rows: list[Voucher]) -> None:
        transition(rows, VoucherState.expired, "validity ended", now=now)
        retire(rows, Priority.critical)

    expired = job_problems.isolated("expiry sweep", due, expire, _subject)
    if expired:  # one summary row per sweep (up to `limit` vouchers), never a row per voucher
        audit.record(None, "vouchers.expire", f"{len(expired)} vouchers", "validity ended",
                     changes={"state": [{"active": len(expired)}, {"expired": len(expired)}]})
    return len(expired)


def expiring_within(seconds: float, now: datetime | None = None) -> list[datetime]:
    """The distinct moments, to the second, at which active vouchers expire in the next `seconds` (index on state, expires_at)."""
    now = now or utcnow()
    moments = db.session.scalars(select(Voucher.expires_at).where(
        Voucher.state == VoucherState.active, Voucher.expires_at > now,
        Voucher.expires_at <= now + timedelta(seconds=seconds)).distinct().limit(100))
    return sorted({moment.replace(microsecond=0) + timedelta(seconds=1) for moment in moments if moment is not None})


MAX_COUNTER = 2**63 - 1  # the BIGINT columns; a router never counts this far, a corrupt reply might


def _counters(seen: dict) -> dict:
    """What the router reported for one user, as bounded integers."""
    def bounded(value: int | str | None) -> int:
        return min(max(int(value or 0), 0), MAX_COUNTER)

    return {"uptime": bounded(seen.get("uptime")), "bytes_in": bounded(seen.get("bytes_in")),
            "bytes_out": bounded(seen.get("bytes_out")), "online": bool(seen.get("online"))}


def _changed(usage: dict[str, dict], router_id: int) -> list[int]:
    """Ids of live vouchers the report changes: more uptime or bytes than stored, or a first login to record.

    Read as plain tuples, so a report of thousands of unchanged users costs no ORM objects.
    """
    ids = []
    for chunk in chunked(sorted(usage)):
        rows = db.session.execute(select(Voucher.id, Voucher.code, Voucher.state, Voucher.uptime_seconds, Voucher.bytes_in,
                                         Voucher.bytes_out).where(Voucher.router_id == router_id, Voucher.code.in_(chunk),
                                                                  Voucher.state.in_(LIVE)))
        for voucher_id, code, state, uptime, bytes_in, bytes_out in rows:
            seen = usage[code]
            if (seen["uptime"] > uptime or seen["bytes_in"] > bytes_in or seen["bytes_out"] > bytes_out
                    or (state == VoucherState.unused and (seen["uptime"] > 0 or seen["online"]))):
                ids.append(voucher_id)
    return ids


def _usage_change(voucher: Voucher, seen: dict, now: datetime) -> dict:
    """The new column values for one voucher (computed before any is set, so a bad row is left untouched)."""
    change = {"uptime_seconds": max(voucher.uptime_seconds, seen["uptime"]),
              "bytes_in": max(voucher.bytes_in, seen["bytes_in"]), "bytes_out": max(voucher.bytes_out, seen["bytes_out"])}
    if voucher.state == VoucherState.unused and (change["uptime_seconds"] > 0 or seen["online"]):
        first = now - timedelta(seconds=change["uptime_seconds"])
        change.update(first_login_at=first, expires_at=first + timedelta(seconds=voucher.validity_seconds))
    return change


def _over_quota(voucher: Voucher) -> bool:
    batch = voucher.batch
    return bool((batch.time_quota_seconds and voucher.uptime_seconds >= batch.time_quota_seconds)
                or (batch.data_quota_bytes and voucher.bytes_total >= batch.data_quota_bytes))


def apply_usage(router_id: int, usage: dict[str, dict], now: datetime | None = None) -> dict[str, int]:
    """Record what the router reports per user name: {uptime, bytes_in, bytes_out, online}.

    Uptime counts closed sessions plus the live one, so first login is `now - uptime`:
    never later than the real one, and a customer never loses time to polling.
    Only vouchers the report changes are loaded. A voucher that cannot be updated (an absurd
    validity, say) is recorded for Monitoring and skipped; the router's other vouchers go on.
    """
    now = now or utcnow()
    usage = {name: _counters(seen) for name, seen in usage.items()}
    vouchers: list[Voucher] = []
    for chunk in chunked(_changed(usage, router_id)):
        vouchers += db.session.scalars(select(Voucher).where(Voucher.id.in_(chunk)))
    activated, exhausted, updated = [], [], 0
    for voucher in vouchers:
        try:
            change = _usage_change(voucher, usage[voucher.code], now)
        except Exception as exc:  # noqa: BLE001 - one bad row is recorded and skipped, never fatal to the router
            job_problems.record("usage poll", _subject(voucher), exc)
            continue
        for column, value in change.items():
            setattr(voucher, column, value)
        updated += 1
        if "first_login_at" in change:
            activated.append(voucher)
        if _over_quota(voucher):
            exhausted.append(voucher)
    db.session.flush()
    started = job_problems.isolated("usage poll", activated, lambda rows: transition(
        rows, VoucherState.active, "first login seen on the router", now=now), _subject)
    not_started = set(activated) - set(started)
    exhausted = [v for v in exhausted if v not in not_started]

    def exhaust(rows: list[Voucher]) -> None:
        transition(rows, VoucherState.exhausted, "quota used up", now=now)
        retire(rows, Priority.critical)

    exhausted = job_problems.isolated("usage poll", exhausted, exhaust, _subject)
    return {"activated": len(started), "exhausted": len(exhausted), "updated": updated}


# -- staff and reseller actions ------------------------------------------------

ACTIONS = {"disable": ("admin", "operator", "reseller"), "enable": ("admin", "operator", "reseller"),
           "delete": ("admin", "operator"), "extend": ("admin", "operator")}


def bulk_action(actor: User, action: str, vouchers: list[Voucher], extend_seconds: int | None = None) -> dict:
    """Disable, enable, delete or extend vouchers already scoped to the actor; returns what changed and skipped."""
    if action not in ACTIONS or not actor.has_role(*ACTIONS[action]):
        raise ServiceError("You may not do that to vouchers.")
    if not vouchers:
        raise ServiceError("Select at least one voucher.")
    now = utcnow()
    states_before = Counter(v.state.value for v in vouchers)
    if action == "disable":
        chosen = [v for v in vouchers if v.state in LIVE]
        who = "reseller" if actor.has_role("reseller") else "staff"
        transition(chosen, VoucherState.disabled, f"disabled by {who}", actor, now)
        retire(chosen, Priority.high, action="disable")
    elif action == "enable":
        chosen = [v for v in vouchers if v.state == VoucherState.disabled and (v.expires_at is None or v.expires_at > now)]
        if actor.has_role("reseller"):  # what staff disabled (fraud, abuse) only staff enable again
            by_staff = _disabled_by_staff([v.id for v in chosen])
            chosen = [v for v in chosen if v.id not in by_staff]
        for state in (VoucherState.unused, VoucherState.active):
            group = [v for v in chosen if (v.first_login_at is None) == (state == VoucherState.unused)]
            transition(group, state, "enabled", actor, now)
        restore(chosen)
    elif action == "delete":
        chosen = [v for v in vouchers if v.state != VoucherState.deleted]
        _refund_unused(actor, [v for v in chosen if v.first_login_at is None and v.reseller_id
                               and v.state in (VoucherState.unused, VoucherState.disabled)])
        transition(chosen, VoucherState.deleted, "deleted", actor, now)
        retire(chosen, Priority.high, action="remove")
    else:
        if not extend_seconds or extend_seconds <= 0:
            raise ServiceError("Give the extra validity, e.g. 1d or 12h.", field="extend")
        chosen = [v for v in vouchers if v.state in LIVE or v.state in (VoucherState.expired, VoucherState.disabled)]
        if any(v.validity_seconds + extend_seconds > MAX_DURATION for v in chosen):
            raise ServiceError(f"A voucher's validity can be at most {MAX_DURATION // 86400} days; extend by less.",
                               field="extend")
        revived = []
        for voucher in chosen:
            voucher.validity_seconds += extend_seconds
            if voucher.expires_at is not None:
                voucher.expires_at += timedelta(seconds=extend_seconds)
            note_event(voucher, f"validity extended by {extend_seconds} s", actor)
            if voucher.state == VoucherState.expired and voucher.expires_at > now:
                revived.append(voucher)
        transition(revived, VoucherState.active, "revived by an extension", actor, now)
        restore(revived)
        vouchers_radius.extend([v for v in chosen if v not in revived and v.state in LIVE and vouchers_radius.is_radius(v)])
    # One summary row for the whole selection (it may be a batch of thousands): counts per state, not a row per voucher.
    one = chosen[0] if len(chosen) == 1 else None
    batches = {v.batch_id for v in vouchers}
    target = f"voucher #{one.id}" if one else f"{len(chosen)} vouchers"  # never the code: it is the login
    changes = audit.diff({"state": dict(sorted(states_before.items()))},
                         {"state": dict(sorted(Counter(v.state.value for v in vouchers).items()))})
    if action == "extend" and chosen:
        changes["validity_seconds"] = ["", f"+{extend_seconds}"]
    audit.record(actor, f"vouchers.{action}", target, f"{len(vouchers) - len(chosen)} skipped", changes=changes,
                 obj=one or (vouchers[0].batch if len(batches) == 1 else None))
    return {"changed": len(chosen), "skipped": len(vouchers) - len(chosen)}


def _disabled_by_staff(voucher_ids: list[int]) -> set[int]:
    """Vouchers whose latest disabling was done by staff (or by the system)."""
    latest: dict[int, int | None] = {}
    for chunk in chunked(voucher_ids):
        rows = db.session.execute(select(VoucherEvent.voucher_id, VoucherEvent.actor_id).where(
            VoucherEvent.voucher_id.in_(chunk), VoucherEvent.to_state == VoucherState.disabled.value,
            VoucherEvent.from_state != VoucherState.disabled.value).order_by(VoucherEvent.id))
        latest.update(dict(rows.tuples().all()))
    resellers = set(db.session.scalars(select(User.id).where(User.id.in_({a for a in latest.values() if a}),
                                                             User.role == Role.reseller))) if latest else set()
    return {vid for vid, actor_id in latest.items() if actor_id not in resellers}


def _refund_unused(actor: User, vouchers: list[Voucher]) -> None:
    """Credit each reseller what they paid for unused vouchers that staff delete."""
    by_reseller: dict[int, list[Voucher]] = {}
    for voucher in vouchers:
        by_reseller.setdefault(voucher.reseller_id, []).append(voucher)
    for reseller_id, group in sorted(by_reseller.items()):  # one lock order, so concurrent refunds never deadlock
        amount = sum((v.batch.unit_cost for v in group), start=ledger.CENT * 0)
        if amount > 0:
            account = ledger.account_for(db.session.get(User, reseller_id))
            ledger.post(account, EntryKind.refund, amount, f"refund of {len(group)} unused vouchers deleted by staff", actor)
