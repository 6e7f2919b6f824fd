"""Backup fixtures: a populated instance, and fresh instances (a new SQLite file, or new MariaDB databases)."""
from __future__ import annotations

import os
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from isp.config import normalise_db_url
from isp.extensions import db as _db
from tests.conftest import make_test_app


def _mysql(url: str, sql: str) -> None:
    """Run `sql` on the server of `url` (no database selected)."""
    server = make_url(url).set(database="")
    engine = create_engine(server)
    try:
        with engine.begin() as conn:
            for statement in sql.split(";"):
                if statement.strip():
                    conn.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture
def fresh(_migrated, tmp_path):
    """Factory: fresh(name) -> a new, empty app instance (no tables at all) on its own database(s)."""
    made = []

    def factory(name: str = "restore", migrate: str | None = None):
        if _migrated.startswith("sqlite"):
            url = f"sqlite:///{tmp_path / name}.db"
            binds = {"radius": url}
        else:
            main = f"{make_url(_migrated).database}_{name}"
            radius_base = make_url(normalise_db_url("TEST_RADIUS_DATABASE_URL",
                                                    os.environ.get("TEST_RADIUS_DATABASE_URL") or _migrated))
            radius = f"{main}_radius"
            _mysql(_migrated, f"DROP DATABASE IF EXISTS {main}; CREATE DATABASE {main}; "
                              f"DROP DATABASE IF EXISTS {radius}; CREATE DATABASE {radius}")
            url = make_url(_migrated).set(database=main).render_as_string(hide_password=False)
            binds = {"radius": radius_base.set(database=radius).render_as_string(hide_password=False)}
            made.append((main, radius))
        app = make_test_app(url, SQLALCHEMY_BINDS=binds, BACKUP_DIR=str(tmp_path / f"{name}-backups"))
        if migrate:
            from flask_migrate import upgrade

            with app.app_context():
                upgrade(revision=migrate)
        return app

    yield factory
    for main, radius in made:
        _mysql(_migrated, f"DROP DATABASE IF EXISTS {main}; DROP DATABASE IF EXISTS {radius}")


@pytest.fixture
def populated(app, make_user, make_router, make_plan, generate, fund, allow):
    """An instance with staff, a reseller who bought vouchers, customers who paid, and radius rows."""
    from isp.models import Customer, EntryKind, PaymentMethod, User
    from isp.radius.models import RadCheck, RadReply, RadUserGroup
    from isp.services import billing, ledger, numbering

    admin = make_user("admin")
    reseller = make_user("reseller")
    router = make_router()
    plan = make_plan(router_ids=[router.id])
    allow(reseller.id, plan.id)
    fund(reseller.id, "500.00")
    generate(reseller.id, plan.id, 7)
    generate(admin.id, plan.id, 5)
    with app.app_context():
        staff = _db.session.get(User, admin.id)
        for n in range(3):
            customer = Customer(account_no=numbering.account_numbers()[0], name=f"Customer {n}", phone=f"07000000{n}",
                                created_by_id=admin.id)
            _db.session.add(customer)
            _db.session.flush()
            billing.record_payment(customer, Decimal("100.00") * (n + 1), PaymentMethod.cash, None, "", staff)
            ledger.post(ledger.customer_account(customer.id), EntryKind.charge, Decimal("-35.50"), "charge",
                        allow_overdraft=True)
        for n in range(4):
            _db.session.add(RadCheck(username=f"rad{n}", attribute="Cleartext-Password", op=":=", value=f"pw{n}"))
            _db.session.add(RadReply(username=f"rad{n}", attribute="Mikrotik-Rate-Limit", op="=", value="2M/4M"))
            _db.session.add(RadUserGroup(username=f"rad{n}", groupname="plan-1", priority=1))
        _db.session.commit()
    return app
