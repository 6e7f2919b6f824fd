"""After the faults: let the system settle, then check what must hold whatever happened."""
from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

USERS, SECRETS = "/ip/hotspot/user", "/ppp/secret"


@dataclass
class Finding:
    """Something lost or duplicated, with when its work was committed (to tell which fault it followed)."""

    kind: str
    what: str
    at: datetime | None = None


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    lost: list[Finding] = field(default_factory=list)
    duplicated: list[Finding] = field(default_factory=list)


def unfinished(app) -> int:
    """Outbox rows that still owe work to a router."""
    from isp.extensions import db
    from isp.models import CommandState, RouterCommand

    with app.app_context():
        n = db.session.scalar(db.select(db.func.count(RouterCommand.id)).where(
            RouterCommand.state.in_(CommandState.unfinished())))
        db.session.remove()
        return int(n or 0)


def settle(app, timeout: float) -> float:
    """Sweep the outbox (as the clock does) until nothing is pending, running or failed; returns the seconds taken."""
    from isp.extensions import db
    from isp.jobs.outbox import sweep_outbox

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        with app.app_context():
            try:
                sweep_outbox()
            except Exception:  # noqa: BLE001 (a sweep that fails now is retried on the next round)
                db.session.rollback()
            db.session.remove()
        if not unfinished(app):
            break
        time.sleep(2.0)
    return time.monotonic() - started


def _names(sim, menu: str) -> list[str]:
    with sim.state.lock:
        return [str(item.get("name")) for item in sim.state.menu(menu).items.values()]


def reconcile(app, world) -> int:
    """Reconcile every API router now; the number of items that drifted (users, profiles, services)."""
    from isp.jobs.reconcile import reconcile_router

    total = 0
    with app.app_context():
        for router_id in world.api_routers:
            outcome = reconcile_router(router_id, "chaos bench")
            numbers = [int(n) for n in re.findall(r"(\d+) drifted", outcome)]
            if not numbers:
                raise RuntimeError(f"reconcile of router {router_id} did not run: {outcome}")
            total += sum(numbers)
    return total


def check(app, fleet, world, report: Report) -> None:
    """Every invariant, as `NAME: value (what)` lines; lost and duplicated work collected on the report."""
    from isp.extensions import db
    from isp.models import (
        CommandState,
        Invoice,
        LedgerAccount,
        LedgerEntry,
        RouterCommand,
        Voucher,
        VoucherBatch,
        VoucherState,
    )
    from isp.radius.models import RadCheck

    live = (VoucherState.unused, VoucherState.active)
    with app.app_context():
        s = db.session
        states = dict(s.execute(db.select(RouterCommand.state, db.func.count()).group_by(RouterCommand.state)).all())
        stuck = s.execute(db.select(RouterCommand.id, RouterCommand.created_at, RouterCommand.state,
                                    RouterCommand.job_id, RouterCommand.attempts, RouterCommand.next_attempt_at,
                                    RouterCommand.updated_at, RouterCommand.last_error).where(
            RouterCommand.state.in_(CommandState.unfinished())).order_by(RouterCommand.id)).all()
        silent_dead = s.scalar(db.select(db.func.count()).where(
            RouterCommand.state.in_([CommandState.dead, CommandState.discarded]), RouterCommand.last_error == ""))
        # What a stuck row looks like says which path lost it: its state, job, attempts, times and last error.
        report.lost += [Finding("outbox", f"command #{i} still {state.value} (job {job_id}, {attempts} attempts, "
                                          f"next attempt {due:%H:%M:%S}, updated {updated:%H:%M:%S}: {error[:80]!r})", at)
                        for i, at, state, job_id, attempts, due, updated, error in stuck]
        report.lost += [Finding("outbox", "dead or discarded without a reason")] * int(silent_dead or 0)
        count = lambda st: int(states.get(st, 0))  # noqa: E731
        report.lines.append(
            f"C1: {len(stuck)} stuck ({sum(states.values())} outbox commands: {count(CommandState.done)} done, "
            f"{count(CommandState.dead)} dead with a reason, {count(CommandState.discarded)} discarded, "
            f"{silent_dead} ended without one; target 0 stuck pending/running/failed)")

        # Vouchers: every live voucher of an API router is a hotspot user there, once; nothing else is.
        dead_keys = set(s.scalars(db.select(RouterCommand.idempotency_key).where(RouterCommand.state == CommandState.dead)))
        missing = ghosts = doubled = 0
        for router_id in world.api_routers:
            sim = fleet[world.sims[router_id]]
            on_router = Counter(_names(sim, USERS))
            rows = s.execute(db.select(Voucher.code, VoucherBatch.created_at).join(
                VoucherBatch, VoucherBatch.id == Voucher.batch_id).where(
                Voucher.router_id == router_id, Voucher.state.in_(live))).all()
            codes = {code for code, _ in rows}
            for code, at in rows:
                if code not in on_router and not any(code in key for key in dead_keys):
                    missing += 1
                    report.lost.append(Finding("voucher", f"{code} missing on {sim.name}", at))
            subscribers = set(s.scalars(db.text("SELECT username FROM subscriptions WHERE router_id = :r"),
                                        {"r": router_id}))
            for name, n in on_router.items():
                if n > 1:
                    doubled += n - 1
                    report.duplicated.append(Finding("router user", f"{name} {n} times on {sim.name}"))
                elif name not in codes and name not in subscribers and name != "default-trial":
                    ghosts += 1
                    report.duplicated.append(Finding("router user", f"{name} on {sim.name} without a live voucher"))
            for name, n in Counter(_names(sim, SECRETS)).items():
                if n > 1:
                    doubled += n - 1
                    report.duplicated.append(Finding("ppp secret", f"{name} {n} times on {sim.name}"))
        report.lines.append(f"C2: {missing} missing, {doubled} doubled, {ghosts} unknown (hotspot users and PPP secrets "
                            f"on {len(world.api_routers)} API routers vs SQL after settling)")

        # Money: each account's balance is the sum of its entries; one entry per payment; one invoice per period.
        bad = s.execute(db.select(LedgerAccount.id, LedgerAccount.balance,
                                  db.func.coalesce(db.func.sum(LedgerEntry.amount), 0))
                        .outerjoin(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
                        .group_by(LedgerAccount.id, LedgerAccount.balance)).all()
        mismatched = [(i, b, t) for i, b, t in bad if round(float(b), 2) != round(float(t), 2)]
        report.lost += [Finding("ledger", f"account {i}: balance {b} but entries sum to {t}") for i, b, t in mismatched]
        paid_twice = s.execute(db.select(LedgerEntry.payment_id, db.func.count()).where(
            LedgerEntry.payment_id.is_not(None)).group_by(LedgerEntry.payment_id).having(db.func.count() > 1)).all()
        report.duplicated += [Finding("payment", f"payment #{p} credited {n} times") for p, n in paid_twice]
        entries = s.scalar(db.select(db.func.count(LedgerEntry.id)))
        report.lines.append(f"C3: {len(mismatched)} mismatched ({len(bad)} ledger accounts, {entries} entries: "
                            f"balance equals the sum of entries; {len(paid_twice)} payments credited twice)")

        twice = s.execute(db.select(Voucher.code, db.func.count()).group_by(Voucher.code).having(db.func.count() > 1)).all()
        invoices = s.execute(db.select(Invoice.subscription_id, Invoice.period_start, Invoice.kind, db.func.count())
                             .group_by(Invoice.subscription_id, Invoice.period_start, Invoice.kind)
                             .having(db.func.count() > 1)).all()
        report.duplicated += [Finding("voucher code", f"{c} {n} times") for c, n in twice]
        report.duplicated += [Finding("invoice", f"subscription {sub} period {start} {n} times") for sub, start, _, n in invoices]
        vouchers = s.scalar(db.select(db.func.count(Voucher.id)))
        n_invoices = s.scalar(db.select(db.func.count(Invoice.id)))
        report.lines.append(f"C4: {len(twice) + len(invoices)} duplicated ({vouchers} voucher codes unique; {n_invoices} "
                            f"invoices, one per subscription and period)")

        if world.radius_router is not None:
            rows = s.execute(db.select(Voucher.code, VoucherBatch.created_at).join(
                VoucherBatch, VoucherBatch.id == Voucher.batch_id).where(
                Voucher.router_id == world.radius_router, Voucher.state.in_(live))).all()
            checked = set(s.scalars(db.select(RadCheck.username).distinct()))
            lacking = [(c, at) for c, at in rows if c not in checked]
            report.lost += [Finding("radius", f"{c} has no radcheck rows", at) for c, at in lacking]
            known = {c for c, _ in rows} | set(s.scalars(db.text("SELECT username FROM subscriptions")))
            orphans = checked - known
            report.duplicated += [Finding("radius", f"radcheck rows for unknown user {u}") for u in orphans]
            report.lines.append(f"C5: {len(lacking)} half-written ({len(rows)} radius-mode vouchers each with their "
                                f"radcheck rows; {len(orphans)} radcheck users without a voucher or service)")
        db.session.remove()


def summary(faults: list, report: Report) -> str:
    """`faults: N survived, L lost, D duplicated`: a fault survived when no lost or duplicated work followed it."""
    hit: set[int] = set()
    findings = report.lost + report.duplicated
    for finding in findings:
        if finding.at is None:
            continue
        earlier = [i for i, f in enumerate(faults) if f.at <= finding.at]
        if earlier:
            hit.add(earlier[-1])
    if findings and not hit and faults:  # something went wrong that no timestamp ties to one fault
        hit.add(len(faults) - 1)
    return f"faults: {len(faults) - len(hit)} survived, {len(report.lost)} lost, {len(report.duplicated)} duplicated"
