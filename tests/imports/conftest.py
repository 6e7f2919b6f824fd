"""Fixtures for the import tests: two routers, service plans of each kind, table counts, the upload round and the
confirmed run (queued on `bulk`, run here by the real worker class)."""
from __future__ import annotations

import io
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from isp.extensions import db as _db
from isp.models import (
    AuditEntry,
    Counter,
    Customer,
    CustomerEvent,
    LedgerAccount,
    LedgerEntry,
    PeriodUnit,
    RouterCommand,
    ServiceKind,
    ServicePlan,
    Subscription,
)
from tests.conftest import csrf_from

TABLES = (Customer, Subscription, LedgerAccount, LedgerEntry, CustomerEvent, AuditEntry, Counter, RouterCommand)


@pytest.fixture
def world(app, make_router):
    """Routers core-1 and edge-2; plans Home 10M (pppoe, both), Office 20M (static, core-1), Hotspot Day (hotspot,
    1 day, core-1) and Edge Only (pppoe, edge-2)."""
    from isp.models import Router

    core, edge = make_router(name="core-1"), make_router(name="edge-2")
    with app.app_context():
        routers = {r.id: r for r in _db.session.scalars(select(Router))}
        specs = [("Home 10M", ServiceKind.pppoe, [core.id, edge.id], PeriodUnit.month, 1, "20.00"),
                 ("Office 20M", ServiceKind.static, [core.id], PeriodUnit.month, 1, "50.00"),
                 ("Hotspot Day", ServiceKind.hotspot, [core.id], PeriodUnit.day, 1, "1.00"),
                 ("Edge Only", ServiceKind.pppoe, [edge.id], PeriodUnit.month, 3, "55.00")]
        plans = {}
        for name, kind, router_ids, unit, count, price in specs:
            plan = ServicePlan(name=name, kind=kind, profile_name="isp-" + name.lower().replace(" ", "-"), price=Decimal(price),
                               period_unit=unit, period_count=count, routers=[routers[i] for i in router_ids])
            _db.session.add(plan)
            _db.session.flush()
            plans[name] = plan.id
        _db.session.commit()
    return SimpleNamespace(core=core, edge=edge, plans=plans)


@pytest.fixture
def counts(app):
    """counts() -> rows per table that an import writes (for 'nothing was written' checks)."""
    def read():
        with app.app_context():
            return {t.__tablename__: _db.session.scalar(select(func.count()).select_from(t)) for t in TABLES}
    return read


HEADER = ("account_no,name,phone,phone2,email,address,national_id,location,tags,notes,status,balance,"
          "kind,username,password,plan,router,static_ip,caller_id,paid_until,auto_renew")


def csv_bytes(*lines: str, header: str = HEADER, bom: bool = False) -> bytes:
    """A CSV file from text lines (our header by default)."""
    return (("\ufeff" if bom else "") + "\n".join((header,) + lines) + "\n").encode("utf-8")


def upload(client, data: bytes, filename: str = "customers.csv", **fields):
    """Post the upload form (dry run); returns the response."""
    page = client.get("/imports/")
    form = {"csrf_token": csrf_from(page.get_data(as_text=True)), "router": "", "plan_map": "", "router_map": ""}
    form.update(fields)
    form["file"] = (io.BytesIO(data), filename)
    return client.post("/imports/", data=form, content_type="multipart/form-data")


def confirm_token(html: str) -> str:
    """The token of the confirm form on a dry-run result page."""
    match = re.search(r'id="token" name="token" type="hidden" value="([^"]+)"', html)
    assert match, "no confirm form on the page"
    return match.group(1)


def confirm(client, page: str, token: str | None = None):
    """Press Import on a dry-run result page (or post another token with that page's CSRF token)."""
    return client.post("/imports/confirm", data={"csrf_token": csrf_from(page), "token": token or confirm_token(page)})


def import_jobs(app) -> list[str]:
    """Dotted paths of the jobs waiting on the `bulk` queue."""
    from rq import Queue

    return [job.func_name for job in Queue("bulk", connection=app.config["REDIS_CLIENT"]).jobs]


def run_imports(app) -> None:
    """Run what waits on `bulk` in-process with the real worker class (only that queue: these routers are not reachable)."""
    from rq import Queue

    from isp.jobs.worker import IspWorker

    connection = app.config["REDIS_CLIENT"]
    IspWorker.app = app
    IspWorker([Queue("bulk", connection=connection)], connection=connection).work(burst=True)
