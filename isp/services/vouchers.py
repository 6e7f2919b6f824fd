"""Voucher batches: generate (paying from the reseller's ledger), store in bulk, push in chunks; scoped reads."""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from flask import current_app
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from isp.extensions import db
from isp.models import (
    CommandState,
    EntryKind,
    HotspotPlan,
    Router,
    RouterCommand,
    RouterMode,
    User,
    Voucher,
    VoucherBatch,
    VoucherEvent,
    VoucherMode,
    VoucherState,
)
from isp.models.base import utcnow
from isp.services import audit, bulk, codes, ledger, outbox, paging, plans, resellers, routers, vouchers_radius
from isp.services.errors import ServiceError
from isp.sqlutil import chunked
from isp.units import format_duration

MAX_BATCH = 10_000
PREFIX_RE = re.compile(r"^[A-Za-z0-9]{0,8}\Z")


VOUCHER_TAG = "isp voucher"  # starts the comment of every router user we push: reconcile touches only these

def _check_request(count: int | None, length: int | None, prefix: str, mode: str) -> VoucherMode:
    if not isinstance(count, int) or not 1 <= count <= MAX_BATCH:
        raise ServiceError(f"Count must be a whole number from 1 to {MAX_BATCH:,}.", field="count")
    if not isinstance(length, int) or not codes.MIN_LENGTH <= length <= codes.MAX_LENGTH:
        raise ServiceError(f"Code length must be from {codes.MIN_LENGTH} to {codes.MAX_LENGTH}.", field="length")
    if length < codes.min_length_for(count):
        raise ServiceError(f"{count:,} vouchers need codes of at least {codes.min_length_for(count)} characters "
                           "to stay hard to guess.", field="length")
    if not PREFIX_RE.match(prefix):
        raise ServiceError("Prefix: up to 8 letters or digits.", field="prefix")
    try:
        return VoucherMode(mode)
    except ValueError:
        raise ServiceError("Mode must be 'code' (username = password) or 'userpass'.", field="mode") from None


def _pick_router(plan: HotspotPlan, router_id: int | None) -> Router:
    if not plan.routers:
        raise ServiceError(f"Plan '{plan.name}' is not sold on any router yet; add a router to the plan.", field="router_id")
    if router_id is None:
        if len(plan.routers) > 1:
            names = ", ".join(r.name for r in plan.routers)
            raise ServiceError(f"Plan '{plan.name}' is sold on several routers ({names}); choose one.", field="router_id")
        return plan.routers[0]
    router = next((r for r in plan.routers if r.id == router_id), None)
    if router is None:
        raise ServiceError(f"Plan '{plan.name}' is not sold on that router.", field="router_id")
    return router


def _taken(candidates: list[str]) -> set[str]:
    found: set[str] = set()
    for chunk in chunked(candidates):
        found.update(db.session.scalars(select(Voucher.code).where(Voucher.code.in_(chunk))))
    return found


def generate(actor: User, plan_id: int, count: int | None, router_id: int | None = None, mode: str = "code",
             prefix: str = "", length: int | None = 8, note: str = "") -> VoucherBatch:
    """Create a batch of vouchers in one transaction and queue their push; a reseller pays first."""
    voucher_mode = _check_request(count, length, prefix, mode)
    is_reseller = actor.has_role("reseller")
    if is_reseller:  # the account lock first, before any other row: one lock order, no deadlock between two purchases
        ledger.lock(ledger.account_for(actor))
    plan = db.session.get(HotspotPlan, plan_id) if plan_id else None
    if plan is None or plan not in plans.sellable(actor):
        raise ServiceError("Choose an active plan you are allowed to sell.", field="plan_id")
    router = _pick_router(plan, router_id)
    batch = VoucherBatch(
        plan_id=plan.id, router_id=router.id, created_by_id=actor.id, reseller_id=actor.id if is_reseller else None,
        note=(note or "").strip()[:200], mode=voucher_mode, prefix=prefix.upper(), code_length=length, count=count,
        price=plan.price, unit_cost=plan.reseller_price if is_reseller else plan.price,
        validity_seconds=plan.validity_seconds, time_quota_seconds=plan.time_quota_seconds,
        data_quota_bytes=plan.data_quota_bytes, profile_name=plan.profile_name)
    db.session.add(batch)
    db.session.flush()
    if is_reseller:  # paid in this transaction: refused (and nothing created) when the balance is short
        ledger.post(ledger.account_for(actor), EntryKind.purchase, -(batch.unit_cost * count),
                    f"{count} × {plan.name} vouchers (batch #{batch.id})", actor, batch_id=batch.id)
    push(batch, _store(batch, count, length, prefix.upper(), voucher_mode))
    audit.record(actor, "vouchers.generate", f"batch #{batch.id}", f"{count} × {plan.name} on {router.name}", obj=batch,
                 changes=audit.diff({}, audit.state(batch)))
    return batch


def _store(batch: VoucherBatch, count: int, length: int, prefix: str, mode: VoucherMode) -> list[tuple[str, str]]:
    """Insert the vouchers in one multi-row statement; a code taken meanwhile by another batch is redrawn."""
    now = utcnow()
    shared = {"batch_id": batch.id, "plan_id": batch.plan_id, "router_id": batch.router_id, "reseller_id": batch.reseller_id,
              "state": VoucherState.unused, "validity_seconds": batch.validity_seconds, "price": batch.price,
              "uptime_seconds": 0, "bytes_in": 0, "bytes_out": 0, "state_changed_at": now, "created_at": now}
    for _ in range(5):
        taken = vouchers_radius.taken_by(_taken) if batch.router.mode == RouterMode.radius else _taken
        new = codes.unique_codes(count, length, prefix, taken)
        rows = [(code, code if mode == VoucherMode.code else codes.random_code(length)) for code in new]
        try:
            with db.session.begin_nested():
                bulk.insert_rows(Voucher.__table__, shared, ("code", "password"), rows)
            return rows
        except IntegrityError:  # a concurrent batch took one of our codes between the check and the insert
            continue
    raise ServiceError("Could not store unique codes; try again or use longer codes.", field="length")


def user_attrs(voucher_code: str, password: str, batch: VoucherBatch, disabled: bool = False) -> dict:
    """The /ip/hotspot/user the router needs; its own limits enforce quotas even when our workers are down."""
    attrs = {"name": voucher_code, "password": password, "profile": batch.profile_name, "server": "all",
             "comment": f"{VOUCHER_TAG} batch {batch.id}", "disabled": "yes" if disabled else "no"}
    if batch.time_quota_seconds:
        attrs["limit-uptime"] = format_duration(batch.time_quota_seconds)
    if batch.data_quota_bytes:
        attrs["limit-bytes-total"] = str(batch.data_quota_bytes)
    return attrs


def push(batch: VoucherBatch, logins: list[tuple[str, str]] | None = None) -> int:
    """Queue the batch's live vouchers (or the given code/password pairs) on the bulk queue in chunks.

    The plan's profile is queued first, at high priority, so the users find it on the router. A radius-mode
    router gets nothing pushed: the new vouchers' RADIUS rows are written in this unit of work instead.
    """
    router = batch.router
    if router.mode != RouterMode.api:
        return vouchers_radius.write_batch(batch, logins) if logins is not None else 0
    plans.push_profile(batch.plan, [router])
    if logins is None:
        logins = list(db.session.execute(select(Voucher.code, Voucher.password).where(
            Voucher.batch_id == batch.id, Voucher.state.in_([VoucherState.unused, VoucherState.active]))).tuples())
    shared = user_attrs("", "", batch)
    items = [("hotspot_user.ensure", f"hotspot_user:{code}", {"attrs": {**shared, "name": code, "password": password}})
             for code, password in logins]
    if items:
        outbox.queue_bulk(router, items, batch.group_key, current_app.config["BULK_CHUNK"])
    return len(items)


# -- scoped reads ---------------------------------------------------------------

def scope(stmt: Select, actor: User, model: type[Voucher] | type[VoucherBatch] = Voucher) -> Select:
    """Limit a voucher or batch query to what the actor may see (a reseller: their own)."""
    if actor.has_role("reseller"):
        stmt = stmt.where(model.reseller_id == actor.id)
    return stmt


def get_batch(actor: User, batch_id: int) -> VoucherBatch | None:
    """A batch the actor may see, else None (the view answers 404)."""
    return db.session.scalar(scope(select(VoucherBatch).where(VoucherBatch.id == batch_id), actor, VoucherBatch))


def get_voucher(actor: User, voucher_id: int) -> Voucher | None:
    """A voucher the actor may see, else None."""
    return db.session.scalar(scope(select(Voucher).where(Voucher.id == voucher_id), actor))


def _code_prefix(prefix: str) -> tuple:
    """Codes starting with `prefix`, as a range on the unique code index.

    SQLite: LIKE alone is not indexable there, so a range is added, whose upper bound (the last character plus one)
    holds in its binary order. MariaDB reads `LIKE 'AB%'` as an index range itself, and in its collation the next
    character code is no bound at all ('[' after 'Z', ':' after '9' sort before letters and digits there).
    """
    like = Voucher.code.like(prefix + "%")
    if db.session.get_bind().dialect.name != "sqlite":
        return (like,)
    upper = prefix[:-1] + chr(min(ord(prefix[-1]) + 1, 0x10FFFF))
    return Voucher.code >= prefix, Voucher.code < upper, like


def list_query(actor: User, filters: dict):
    """Vouchers filtered in SQL: state, plan, batch, router, reseller and a code prefix search.

    Newest first off a (filter, id) index, so page 50 costs what page 1 does; the related rows come in three
    small IN queries for the page instead of joins on every row the database walks.
    """
    stmt = scope(select(Voucher), actor).order_by(Voucher.id.desc()).options(
        selectinload(Voucher.batch), selectinload(Voucher.plan), selectinload(Voucher.router))
    if filters.get("state"):
        stmt = stmt.where(Voucher.state == VoucherState(filters["state"]))
    for key, column in (("plan_id", Voucher.plan_id), ("batch_id", Voucher.batch_id), ("router_id", Voucher.router_id),
                        ("reseller_id", Voucher.reseller_id)):
        if filters.get(key):
            stmt = stmt.where(column == int(filters[key]))
    prefix = (filters.get("q") or "").strip().upper().replace("%", "").replace("_", "")
    if prefix:
        stmt = stmt.where(*_code_prefix(prefix))
    return stmt


def list_page(actor: User, filters: dict, per_page: int) -> paging.IdPagination:
    """One page of `list_query` (page number from the request): its ids off the index, then those rows."""
    return paging.paginate(list_query(actor, filters), Voucher.id, per_page)


def batches_query(actor: User, filters: dict | None = None):
    """Batches, newest first, scoped to the actor."""
    filters = filters or {}
    stmt = scope(select(VoucherBatch), actor, VoucherBatch).order_by(VoucherBatch.id.desc())
    for key, column in (("plan_id", VoucherBatch.plan_id), ("router_id", VoucherBatch.router_id),
                        ("reseller_id", VoucherBatch.reseller_id)):
        if filters.get(key):
            stmt = stmt.where(column == int(filters[key]))
    return stmt


def batch_progress(batch: VoucherBatch) -> dict:
    """Push progress of a batch from its outbox rows: pushed, failed, pending and a percentage.

    On a radius-mode router nothing is pushed: the progress says how many live vouchers FreeRADIUS can authenticate.
    """
    if batch.router.mode == RouterMode.radius:
        return vouchers_radius.in_radius(batch)
    rows = dict(db.session.execute(select(RouterCommand.state, func.count()).where(
        RouterCommand.group_key == batch.group_key).group_by(RouterCommand.state)).tuples().all())
    pushed = rows.get(CommandState.done, 0)
    failed = rows.get(CommandState.dead, 0) + rows.get(CommandState.discarded, 0)
    total = sum(rows.values())
    pending = total - pushed - failed
    retrying = rows.get(CommandState.failed, 0)
    percent = 100 if total == 0 else int(100 * (pushed + failed) / total)
    return {"total": total, "pushed": pushed, "failed": failed, "pending": pending, "retrying": retrying,
            "percent": percent, "finished": pending == 0}


def batch_counts(batch_ids: list[int]) -> dict[int, dict[str, int]]:
    """Voucher counts by state for many batches in one grouped query."""
    out: dict[int, dict[str, int]] = {b: {} for b in batch_ids}
    if batch_ids:
        for batch_id, state, n in db.session.execute(select(Voucher.batch_id, Voucher.state, func.count()).where(
                Voucher.batch_id.in_(batch_ids)).group_by(Voucher.batch_id, Voucher.state)):
            out[batch_id][state.value] = n
    return out


SYNC_LABEL = {CommandState.done: "synced", CommandState.pending: "pending", CommandState.running: "pushing",
              CommandState.failed: "retrying", CommandState.dead: "failed", CommandState.discarded: "failed"}


def sync_states(vouchers: list[Voucher]) -> dict[int, tuple[str, str]]:
    """Per voucher: (label, last error) of the newest router command for its user, in one query."""
    by_key = {(v.router_id, v.command_key): v.id for v in vouchers}
    out = {v.id: ("not queued", "") for v in vouchers}
    if not by_key:
        return out
    rows = db.session.execute(select(RouterCommand.router_id, RouterCommand.idempotency_key, RouterCommand.state,
                                     RouterCommand.last_error).where(
        RouterCommand.idempotency_key.in_([k for _, k in by_key])).order_by(RouterCommand.id))
    for router_id, key, state, error in rows:
        if (router_id, key) in by_key:
            out[by_key[(router_id, key)]] = (SYNC_LABEL[state], error if state != CommandState.done else "")
    out.update(vouchers_radius.sync_states([v for v in vouchers if v.router.mode == RouterMode.radius]))
    return out


def retry_failed(batch: VoucherBatch, actor: User) -> int:
    """Give every dead push of the batch a fresh set of attempts, in chunks on the bulk queue."""
    live = {f"hotspot_user:{code}" for code in db.session.scalars(select(Voucher.code).where(
        Voucher.batch_id == batch.id, Voucher.state.in_([VoucherState.unused, VoucherState.active])))}
    count = outbox.retry_group(batch.router, batch.group_key, current_app.config["BULK_CHUNK"], keep=live)
    audit.record(actor, "vouchers.retry", f"batch #{batch.id}", f"{count} failed pushes retried", obj=batch)
    return count


# -- what the pages show and act on --------------------------------------------

def filter_choices(actor: User) -> dict[str, list]:
    """Options of the list filters: every plan, router and reseller for staff; a reseller's own plans."""
    if actor.has_role("reseller"):
        return {"plans": plans.sellable(actor), "routers": [], "resellers": []}
    return {"plans": plans.by_name(), "routers": routers.by_name(),
            "resellers": list(db.session.scalars(resellers.list_query()))}


def selection(actor: User, batch_id: int | None = None, ids: Iterable[int] = ()) -> list[Voucher]:
    """What a bulk action applies to: every voucher of a batch, or the ticked ids; only those the actor may see."""
    if batch_id is not None:
        return list(db.session.scalars(scope(select(Voucher).where(Voucher.batch_id == batch_id), actor)))
    chosen: list[Voucher] = []
    for chunk in chunked(sorted(set(ids))):
        chosen += db.session.scalars(scope(select(Voucher).where(Voucher.id.in_(chunk)), actor))
    return chosen


def history(voucher: Voucher) -> list[VoucherEvent]:
    """The voucher's state changes and notes, oldest first."""
    return list(db.session.scalars(select(VoucherEvent).where(VoucherEvent.voucher_id == voucher.id)
                                   .order_by(VoucherEvent.id)))


def for_export(actor: User, filters: dict) -> Iterator[Voucher]:
    """The vouchers matching the list filters, in id order, streamed from the database in slices."""
    stmt = list_query(actor, filters).order_by(None).order_by(Voucher.id)
    yield from db.session.scalars(stmt.execution_options(yield_per=1000))
