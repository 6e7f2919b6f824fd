"""A unit that writes our row and RADIUS rows commits in both databases or in neither (same file / same server)."""
from __future__ import annotations

import os
import threading

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import DBAPIError

from isp.extensions import db
from isp.models import Role
from isp.radius import binds
from isp.radius.models import RadCheck, RadUserGroup
from isp.services import users
from isp.transaction import atomic
from tests.conftest import TEST_PASSWORD
from tests.radius_core.conftest import counts


def _unit(username: str, values: list[str]):
    """Our user, then radcheck rows one statement each (the ORM add, then a bulk insert), as the writers do."""

    def work():
        users.create_user(username, TEST_PASSWORD, Role.operator)
        db.session.add(RadUserGroup(username=username, groupname="plan-1", priority=1))
        db.session.flush()
        for value in values:
            db.session.execute(insert(RadCheck), [{"username": username, "attribute": "Cleartext-Password",
                                                   "op": ":=", "value": value}])
        return username

    return work


def test_mode_is_one_transaction_in_the_test_profiles(app):
    if os.environ.get("TEST_RADIUS_TWO_PHASE"):
        assert binds.mode(app) == binds.TWO_PHASE
        return
    expected = binds.SAME_FILE if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") else binds.SAME_SERVER
    assert binds.mode(app) == expected
    with app.app_context():
        assert db.engines["radius"] is db.engines[None]


def test_both_commit_together(app):
    with app.app_context():
        atomic(_unit("alice", ["pw-1"]))
        db.session.remove()
    assert counts(app, "alice") == (1, 1)


def test_radius_failure_mid_way_leaves_no_row_in_either_database(app, radcheck_trigger):
    with app.app_context():
        with pytest.raises(DBAPIError, match="injected radius failure"):
            atomic(_unit("bob", ["pw-1", radcheck_trigger]))  # the first radcheck row went in, the second fails
        db.session.remove()
    assert counts(app, "bob") == (0, 0)


def test_radius_rows_and_ours_are_one_transaction_until_commit(app):
    """Before the commit, another connection sees neither row; after it, both."""
    with app.app_context():
        _unit("carol", ["pw"])()
        assert counts(app, "carol") == (0, 0)
        db.session.commit()
        db.session.remove()
    assert counts(app, "carol") == (1, 1)


def test_killed_connection_mid_way_leaves_no_row(app):
    """MariaDB: the unit's connection is killed from another one between the radius writes; nothing survives."""
    if binds.mode(app) == binds.SAME_FILE:
        pytest.skip("KILL CONNECTION needs the MariaDB profile (TEST_DATABASE_URL)")
    with app.app_context():
        work = _unit("dave", ["pw-1"])

        def killed_then_more():
            work()
            conn_id = db.session.connection().exec_driver_sql("SELECT CONNECTION_ID()").scalar()
            killer = threading.Thread(target=_kill, args=(app, conn_id))
            killer.start()
            killer.join()
            db.session.execute(insert(RadCheck), [{"username": "dave", "attribute": "Expiration", "op": ":=",
                                                   "value": "01 Jan 2030 00:00:00"}])

        with pytest.raises(DBAPIError):
            atomic(killed_then_more)
        db.session.remove()
    assert counts(app, "dave") == (0, 0)


def _kill(app, conn_id: int) -> None:
    """KILL CONNECTION from a connection of its own."""
    with app.app_context():
        engine = binds.radius_engine(app)
        with engine.connect() as conn:
            conn.exec_driver_sql(f"KILL CONNECTION {int(conn_id)}")
        engine.dispose()


def deadlock_once(username: str):
    """A unit that writes both sides, then is picked as a deadlock victim on its first run only."""
    import pymysql
    from sqlalchemy.exc import OperationalError

    runs = {"n": 0}
    work = _unit(username, ["pw"])

    def unit():
        runs["n"] += 1
        work()
        if runs["n"] == 1:
            raise OperationalError("INSERT ...", {}, pymysql.err.OperationalError(1213, "Deadlock found"))

    return unit, runs


def test_atomic_retries_a_deadlock_across_both_databases(app):
    unit, runs = deadlock_once("olga")
    with app.app_context():
        atomic(unit)
        db.session.remove()
    assert runs["n"] == 2
    assert counts(app, "olga") == (1, 1)  # the first run's rows were rolled back on both sides, the second's kept
