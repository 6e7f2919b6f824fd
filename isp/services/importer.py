"""CSV import of customers and their services: a dry run that writes nothing, then one transaction.

One format of ours (docs/import.md, and the table on /imports/), plus PHPNuxBill's customer exports and Mikhmon's
hotspot-user export recognised by their headers (isp.services.import_format). `check` parses and validates the whole
file (isp.services.import_checks) and lists every problem with its line and column; `run` re-runs `check` inside
the caller's transaction and, only when it is clean, writes everything set-based (multi-row inserts, account
numbers reserved in one call) and queues the router pushes. Between the two the file waits in Redis, bound to
the user who uploaded it; the confirmation claims it once and queues the real run on `bulk` (isp.jobs.imports),
whose outcome waits in Redis for the uploader's run page. The export (isp.services.customer_export) writes the same
columns.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import secrets
import time
from collections import Counter as Tally
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from redis.exceptions import RedisError
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from isp import crypto, dispatch
from isp.extensions import db, redis_store
from isp.models import (
    AccountKind,
    AuditEntry,
    Customer,
    CustomerEvent,
    CustomerStatus,
    EntryKind,
    LedgerAccount,
    LedgerEntry,
    Priority,
    Subscription,
    SubscriptionState,
    User,
)
from isp.models.base import utcnow
from isp.services import audit, branding, numbering, provisioning
from isp.services.errors import ServiceError
from isp.services.import_checks import CustomerDraft, Options, Refs, check_db, gather, names
from isp.services.import_format import FORMAT_NAMES, Problem, parse
from isp.sqlutil import chunked

log = logging.getLogger(__name__)
STASH_TTL = 30 * 60  # seconds a checked file waits for its confirmation
RUN_TTL = 24 * 3600  # seconds a started run (who started it, its outcome) stays readable on its page
START_GRACE = 60  # seconds a claimed run may show no job yet (the confirm that claimed it is still queueing it)
SHOWN_PROBLEMS = 1000  # problems kept with a refused run's outcome (their count is always exact)
FINAL = ("done", "refused", "failed")
OPENING_MEMO = "import opening balance"
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{20,64}", re.ASCII)
_STASH = "isp:import:"


class ImportRefused(ServiceError):
    """The real run found problems (something changed since the dry run): nothing was written."""

    def __init__(self, report: Report) -> None:
        super().__init__(f"Nothing was imported: {len(report.problems)} problems were found.", field="file")
        self.report = report


@dataclass
class Report:
    """What a dry run found: counts, every problem, notices, and the drafts a clean run writes."""

    filename: str = ""
    format: str = "isp"
    lines: int = 0
    customers: list[CustomerDraft] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notices: list[Problem] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing stops the import."""
        return not self.problems and bool(self.customers)

    @property
    def customer_count(self) -> int:
        """Customers the import creates."""
        return len(self.customers)

    @property
    def service_count(self) -> int:
        """Services the import creates."""
        return sum(len(c.services) for c in self.customers)

    @property
    def states(self) -> dict[str, int]:
        """Services per state they are imported in."""
        return dict(Tally(s.state.value for c in self.customers for s in c.services))

    @property
    def balances(self) -> tuple[int, Decimal]:
        """(customers with an opening balance, their sum)."""
        amounts = [c.values["balance"] for c in self.customers if c.values.get("balance")]
        return len(amounts), sum(amounts, Decimal("0.00"))

    @property
    def bad_lines(self) -> int:
        """Lines with at least one problem."""
        return len({p.line for p in self.problems})


def check(data: bytes, options: Options, filename: str = "") -> Report:
    """The dry run: read, map and validate the whole file against the database; writes nothing."""
    parsed = parse(data)
    report = Report(filename=(filename or "upload.csv")[:120], format=parsed.format, lines=parsed.count,
                    problems=parsed.problems, ignored_columns=parsed.ignored_columns)
    refs = Refs.load(options, report.format)
    report.customers = gather(parsed.lines, report.problems, refs)
    check_db(report.customers, report.problems, report.notices, refs)
    report.problems.sort(key=lambda p: p.line)
    return report


# -- the real run ---------------------------------------------------------------


def run(data: bytes, options: Options, actor: User | None, filename: str = "", ref: str = "") -> Report:
    """Check the file again inside the caller's transaction and, only when clean, write it all (flushes, never commits).

    A problem found now (say a username taken since the dry run) raises ImportRefused with the report; a collision
    the checks could not see (a concurrent insert) raises ServiceError. Either way the caller rolls everything back.
    `ref` (a queued run's reference) goes into the audit entry, so a run whose worker died can be looked up.
    """
    report = check(data, options, filename)
    if not report.ok:
        raise ImportRefused(report)
    try:
        _write(report, actor, hashlib.sha256(data).hexdigest(), ref)
    except IntegrityError:
        raise ServiceError("Nothing was imported: another change took one of these usernames, static IPs or account "
                           "numbers while the import ran. Upload the file again to see which.", field="file") from None
    return report


def _ids(column: object, key: object, values: list) -> dict:
    """{key value: id column} for rows whose `key` is in `values` (chunked IN lookups)."""
    found: dict = {}
    for chunk in chunked(values):
        found.update(db.session.execute(select(key, column).where(key.in_(chunk))).tuples().all())  # type: ignore[union-attr]
    return found


def _rows(model: type) -> object:
    """A Core multi-row INSERT of the model's table: executemany without the ORM's per-row bookkeeping."""
    return insert(model.__table__)  # type: ignore[attr-defined]


def _floor_account_counter(kept: list[str]) -> None:
    """Move the account-number sequence past kept numbers written in its own format, so no sign-up collides later."""
    settings = branding.get()
    pattern = re.compile(re.escape(settings.account_prefix) + r"([0-9]+)")
    values = [int(m.group(1)) for a in kept if (m := pattern.fullmatch(a))
              and numbering.format_account(int(m.group(1)), settings) == a]
    if not values:
        return
    numbering.raise_floor("customer", max(values))


def _write(report: Report, actor: User | None, digest: str, ref: str) -> None:
    """Multi-row inserts: customers, their ledger accounts, opening balances, services, timeline; one audit entry."""
    now, actor_id, drafts = utcnow(), actor.id if actor else None, report.customers
    _floor_account_counter([str(c.values["account_no"]) for c in drafts if c.keep_account])
    fresh = sum(1 for c in drafts if not c.keep_account)
    numbers = iter(numbering.account_numbers(fresh) if fresh else [])
    accounts = [str(c.values["account_no"]) if c.keep_account else next(numbers) for c in drafts]
    text = ("name", "phone", "phone2", "email", "address", "national_id", "location", "tags", "notes")
    db.session.execute(_rows(Customer), [
        {**{k: c.values[k] or "" for k in text}, "account_no": account, "created_by_id": actor_id, "created_at": now,
         "updated_at": now, "status": CustomerStatus(c.values["status"] or "active")}
        for c, account in zip(drafts, accounts, strict=True)])
    by_account = _ids(Customer.id, Customer.account_no, accounts)
    customer_ids = [by_account[a] for a in accounts]
    balances = [c.values["balance"] or Decimal("0.00") for c in drafts]
    db.session.execute(_rows(LedgerAccount), [
        {"kind": AccountKind.customer, "customer_id": cid, "balance": amount, "created_at": now}
        for cid, amount in zip(customer_ids, balances, strict=True)])
    opening = [(cid, amount) for cid, amount in zip(customer_ids, balances, strict=True) if amount]
    if opening:
        account_ids = _ids(LedgerAccount.id, LedgerAccount.customer_id, [cid for cid, _ in opening])
        db.session.execute(_rows(LedgerEntry), [
            {"account_id": account_ids[cid], "kind": EntryKind.adjustment, "amount": amount, "balance_after": amount,
             "memo": OPENING_MEMO, "idem_key": f"import-opening:{cid}", "created_by_id": actor_id, "created_at": now}
            for cid, amount in opening])
    services = [
        {"customer_id": cid, "kind": s.kind, "username": s.username, "plan_id": s.plan_id, "router_id": s.router_id,
         "password_encrypted": crypto.encrypt(s.password) if s.password else "", "static_ip": s.static_ip,
         "caller_id": s.caller_id, "state": s.state, "started_at": s.period_start, "period_start": s.period_start,
         "paid_until": s.paid_until, "auto_renew": s.auto_renew, "state_changed_at": now, "created_at": now,
         "updated_at": now}
        for c, cid in zip(drafts, customer_ids, strict=True) for s in c.services]
    if services:
        db.session.execute(_rows(Subscription), services)
    db.session.execute(_rows(CustomerEvent), [
        {"customer_id": cid, "kind": "import", "actor_id": actor_id, "at": now,
         "summary": f"Imported from {report.filename}, line{'s' if len(c.lines) > 1 else ''} "
                    f"{names([str(n) for n in c.lines], 10)} ({len(c.services)} service{'' if len(c.services) == 1 else 's'})."}
        for c, cid in zip(drafts, customer_ids, strict=True)])
    count, total = report.balances
    states = ", ".join(f"{n} {s}" for s, n in sorted(report.states.items())) or "none"
    audit.record(actor, "customers.import", f"file:{report.filename}"[:128],
                 f"{report.customer_count} customers, {report.service_count} services ({states}); opening balances on "
                 f"{count} accounts, total {total:.2f}; {FORMAT_NAMES[report.format]}; sha256 {digest[:16]}"
                 + (f"; run {ref}" if ref else ""),
                 # One summary row per import (it may hold 100k rows): counts, not a row per customer.
                 changes={"customers": [None, report.customer_count], "services": [None, report.service_count]})
    db.session.flush()
    served = (SubscriptionState.active, SubscriptionState.suspended)
    sync_ids: list[int] = []
    for chunk in chunked(customer_ids):
        sync_ids += db.session.scalars(select(Subscription.id).where(Subscription.customer_id.in_(chunk),
                                                                     Subscription.state.in_(served)))
    if sync_ids:
        provisioning.sync_many(sorted(sync_ids), Priority.normal)


# -- the file between the dry run and the confirmation ---------------------------


@dataclass
class Stashed:
    """A checked file waiting for its confirmation (kept in Redis, bound to the user who uploaded it)."""

    token: str
    data: bytes
    filename: str
    options: Options


def stash(data: bytes, filename: str, options: Options, user_id: int) -> str:
    """Keep the file server-side for STASH_TTL seconds; returns the random token the confirm form carries."""
    token = secrets.token_urlsafe(24)
    meta = {"user_id": user_id, "filename": filename, "options": options.as_dict(), "sha256": hashlib.sha256(data).hexdigest()}
    pipe = redis_store.client.pipeline()
    pipe.hset(_STASH + token, mapping={"data": data, "meta": json.dumps(meta)})
    pipe.expire(_STASH + token, STASH_TTL)
    pipe.execute()
    return token


def unstash(token: str | None, user_id: int) -> Stashed | None:
    """The stashed file if the token is one of this user's and the content is intact; None otherwise."""
    if not token or not _TOKEN_RE.fullmatch(token):
        return None
    found = redis_store.client.hgetall(_STASH + token)
    if not found or b"meta" not in found or b"data" not in found:
        return None
    meta = json.loads(found[b"meta"])
    data = found[b"data"]
    if meta.get("user_id") != user_id or hashlib.sha256(data).hexdigest() != meta.get("sha256"):
        return None
    return Stashed(token, data, str(meta.get("filename", "")), Options.from_dict(meta.get("options", {})))


# -- the real run, queued: claimed once, run by a worker, its outcome kept for the uploader -------------


def run_ref(token: str) -> str:
    """A run's public reference (job id and description, audit entry, logs): the token itself stays out of them."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def run_job_id(token: str) -> str:
    """The RQ job id of the run started with `token`."""
    return f"import-{run_ref(token)}"


def start(stashed: Stashed, user_id: int) -> bool:
    """Claim the checked file (once: a second confirm or a double click starts nothing) and queue its run on `bulk`.

    False when it was claimed already. There is no SQL row to commit first, so the job is sent at once.
    """
    client, key = redis_store.client, _STASH + stashed.token + ":run"
    claim = {"user_id": user_id, "filename": stashed.filename, "claimed_at": time.time()}
    if not client.set(key, json.dumps(claim), nx=True, ex=RUN_TTL):
        return False
    try:
        # The file must outlive the job's wait in the queue and its run; the job forgets it when it ends.
        client.expire(_STASH + stashed.token, dispatch.IMPORT_RUN.ttl + dispatch.IMPORT_RUN.timeout + 60)
        # RQ logs a job's description, by default its call with the arguments: the token stays out of the logs.
        dispatch.Enqueue(dispatch.IMPORT_RUN, (stashed.token, user_id), run_job_id(stashed.token),
                         kwargs={"description": f"import run {run_ref(stashed.token)}"}).send()
    except RedisError:
        log.exception("could not queue import %s", run_ref(stashed.token))
        with contextlib.suppress(RedisError):
            client.delete(key)  # nothing started: the same confirmation may be pressed again
        raise ServiceError("The import could not be queued (Redis did not answer): nothing was imported. Try again.",
                           field="file") from None
    return True


def mark_running(token: str) -> bool:
    """The worker has picked the run up (its page says "Importing…"); False if the run had started before."""
    return bool(redis_store.client.set(_STASH + token + ":outcome", json.dumps({"state": "running", "started_at": time.time()}),
                                       nx=True, ex=RUN_TTL))


def finish(token: str, outcome: dict) -> None:
    """Keep the run's outcome for its page and forget the file (each checked file is imported at most once)."""
    pipe = redis_store.client.pipeline()
    pipe.set(_STASH + token + ":outcome", json.dumps({**outcome, "finished_at": time.time()}), ex=RUN_TTL)
    pipe.delete(_STASH + token)
    pipe.execute()


def done(report: Report) -> dict:
    """The outcome of a run that wrote everything: what the run page shows."""
    count, total = report.balances
    return {"state": "done", "lines": report.lines, "customers": report.customer_count, "services": report.service_count,
            "states": report.states, "balances": count, "balance_total": f"{total:.2f}"}


def refused(report: Report) -> dict:
    """The outcome of a run whose checks failed inside the transaction: nothing written, every problem counted."""
    return {"state": "refused", "lines": report.lines, "bad_lines": report.bad_lines, "problem_count": len(report.problems),
            "problems": [[p.line, p.column, p.message] for p in report.problems[:SHOWN_PROBLEMS]]}


def failed(message: str) -> dict:
    """The outcome of a run that stopped on an error: nothing written."""
    return {"state": "failed", "message": message}


@dataclass
class Run:
    """What a run's page shows: queued, running, its outcome, or lost (its job is gone without one)."""

    token: str
    filename: str
    claimed_at: float
    state: str = "queued"
    outcome: dict = field(default_factory=dict)
    written: str | None = None  # a lost run that did commit: its audit entry's detail

    @property
    def pending(self) -> bool:
        """True while the page should keep polling."""
        return self.state in ("queued", "running")


def status(token: str | None, user_id: int) -> Run | None:
    """The run started with `token`, if this user started it (None for anyone else or an unknown token)."""
    if not token or not _TOKEN_RE.fullmatch(token):
        return None
    client = redis_store.client
    claimed, raw = client.mget(_STASH + token + ":run", _STASH + token + ":outcome")
    meta = json.loads(claimed) if claimed else {}
    if meta.get("user_id") != user_id:
        return None
    run = Run(token, str(meta.get("filename", "")), float(meta.get("claimed_at", 0)))
    outcome = json.loads(raw) if raw else {}
    if outcome.get("state") not in FINAL and dispatch.alive([run_job_id(token)]):
        run.state, run.outcome = ("running" if outcome else "queued"), outcome
        return run
    if outcome.get("state") not in FINAL:
        raw = client.get(_STASH + token + ":outcome")  # it may have finished between the two looks
        outcome = json.loads(raw) if raw else {}
    if outcome.get("state") in FINAL or (not outcome and time.time() - run.claimed_at < START_GRACE):
        run.state, run.outcome = outcome.get("state", "queued"), outcome
        return run
    run.state, run.written = "lost", _committed(token, user_id, run.claimed_at)
    return run


def _committed(token: str, user_id: int, since: float) -> str | None:
    """The audit detail of a run that committed but never reported (its worker died between the two), else None."""
    return db.session.scalar(select(AuditEntry.detail).where(
        AuditEntry.action == "customers.import", AuditEntry.actor_id == user_id,
        AuditEntry.at >= datetime.fromtimestamp(since - 3600, UTC),  # clocks of web and worker may differ a little
        AuditEntry.detail.contains(f"; run {run_ref(token)}", autoescape=True)).limit(1))


def record_password_export(actor: User) -> None:
    """Audit a services export that carries passwords (who and when; never the passwords themselves)."""
    audit.record(actor, "subscriptions.export_passwords", "services.csv", "services exported with their passwords")
