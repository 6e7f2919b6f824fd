"""Migration 0012 makes a service username unique across kinds; a database that already holds a clash is named and
left as it was (renaming a subscriber's login is the operator's call), and the database then refuses new clashes."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.conftest import make_test_app


def _app(tmp_path):
    return make_test_app(f"sqlite:///{tmp_path}/mig.db")


def _rows() -> None:
    """A PPPoE and a hotspot service both named 'john' (what per-kind uniqueness allowed), written with the models."""
    from decimal import Decimal

    from isp import crypto
    from isp.extensions import db
    from isp.models import Customer, Router, ServiceKind, ServicePlan, Subscription

    # The router row goes in as a Core insert of the columns it had at 0011 (later migrations add columns to routers).
    router_id = db.session.execute(sa.insert(Router.__table__).values(
        name="r1", addresses="127.0.0.1", username="a", password_encrypted=crypto.encrypt("x"))).inserted_primary_key[0]
    customer = Customer(account_no="ISP-000001", name="Ann")
    db.session.add(customer)
    db.session.flush()
    for kind in (ServiceKind.pppoe, ServiceKind.hotspot):
        plan = ServicePlan(name=kind.value, kind=kind, profile_name=f"isp-svc-{kind.value}", price=Decimal("10.00"))
        db.session.add(plan)
        db.session.flush()
        db.session.add(Subscription(customer_id=customer.id, kind=kind, username="john", password_encrypted="x",
                                    plan_id=plan.id, router_id=router_id))
    db.session.commit()


def test_a_clash_already_stored_stops_the_upgrade_naming_it_then_the_database_refuses_new_ones(tmp_path, capfd):
    from flask_migrate import downgrade, upgrade

    app = _app(tmp_path)
    with app.app_context():
        from isp.extensions import db

        upgrade()
        downgrade(revision="0011_router_radius_port")
        _rows()
        db.session.remove()
        with pytest.raises(SystemExit):  # Flask-Migrate logs the error and exits 1, as `flask db upgrade` would
            upgrade()
        said = capfd.readouterr().err
        assert "'john' (2 services)" in said and "Rename all but one" in said
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE subscriptions SET username = 'john-hotspot' WHERE kind = 'hotspot'"))
        upgrade()
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(text("UPDATE subscriptions SET username = 'john' WHERE kind = 'hotspot'"))
