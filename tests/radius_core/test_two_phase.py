"""The two-phase mode on MariaDB: our database and the radius database through two engines, XA on the radius side.

Both databases sit on the test server, so RADIUS_TWO_PHASE=1 forces the mode a radius database on another
server gets. The crash tests stop a real process at a named point of the commit (os._exit: no cleanup, the
server sees the connections drop) and then run the recovery a worker runs when it starts.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import DBAPIError

from isp.extensions import db
from isp.models import Role
from isp.radius import binds, xa
from isp.radius.models import RadCheck
from isp.services import users
from isp.transaction import atomic
from tests.conftest import TEST_PASSWORD, make_test_app
from tests.radius_core.conftest import counts
from tests.radius_core.test_atomic import _unit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def xa_app(app):
    """An app in the two-phase mode on the test profile's two databases (MariaDB only)."""
    if binds.mode(app) == binds.SAME_FILE:
        pytest.skip("XA two-phase commit needs the MariaDB profile (TEST_DATABASE_URL, TEST_RADIUS_DATABASE_URL)")
    two = make_test_app(app.config["SQLALCHEMY_DATABASE_URI"], RADIUS_TWO_PHASE=True)
    with two.app_context():
        xa.ensure_log_table(db.engines[None])
    yield two
    with two.app_context():
        db.session.remove()
        _settle_all(two)
        with db.engines[None].begin() as conn:
            conn.execute(xa.XA_LOG.delete())
        for engine in set(db.engines.values()):
            engine.dispose()


def _settle_all(app) -> None:
    """Roll back anything of ours a failed test left in doubt (so no row lock outlives it)."""
    engine = binds.radius_engine(app)
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        for xid in xa.in_doubt(conn):
            conn.exec_driver_sql("XA ROLLBACK %s", (xid,))
    engine.dispose()


def _in_doubt(app) -> list[str]:
    engine = binds.radius_engine(app)
    with engine.connect() as conn:
        xids = xa.in_doubt(conn)
    engine.dispose()
    return xids


def _logged(app) -> int:
    with app.app_context(), db.engines[None].connect() as conn:
        return conn.scalar(select(func.count()).select_from(xa.XA_LOG))


def test_two_engines_and_a_coordinator(xa_app):
    assert binds.mode(xa_app) == binds.TWO_PHASE
    with xa_app.app_context():
        assert db.engines["radius"] is not db.engines[None]
        assert db.engines["radius"].url.database.endswith("_radius")


def test_both_commit_and_the_decision_is_recorded(xa_app):
    with xa_app.app_context():
        atomic(_unit("erin", ["pw"]))
        db.session.remove()
    assert counts(xa_app, "erin") == (1, 1)
    assert _in_doubt(xa_app) == []
    assert _logged(xa_app) == 1


def test_a_unit_without_radius_rows_stays_a_plain_transaction(xa_app):
    with xa_app.app_context():
        atomic(lambda: users.create_user("frank", TEST_PASSWORD, Role.operator))
        db.session.remove()
    assert counts(xa_app, "frank") == (1, 0)
    assert _logged(xa_app) == 0


def test_radius_failure_mid_way_leaves_no_row_in_either_database(xa_app, radcheck_trigger):
    with xa_app.app_context():
        with pytest.raises(DBAPIError, match="injected radius failure"):
            atomic(_unit("gina", ["pw-1", radcheck_trigger]))
        db.session.remove()
    assert counts(xa_app, "gina") == (0, 0)
    assert _in_doubt(xa_app) == [] and _logged(xa_app) == 0


def test_killed_radius_connection_mid_way_leaves_no_row(xa_app):
    with xa_app.app_context():
        work = _unit("hank", ["pw-1"])

        def killed_then_more():
            work()
            radius_conn = db.session.connection(bind_arguments={"mapper": RadCheck.__mapper__})
            conn_id = radius_conn.exec_driver_sql("SELECT CONNECTION_ID()").scalar()
            killer = threading.Thread(target=_kill, args=(xa_app, conn_id))
            killer.start()
            killer.join()
            db.session.execute(insert(RadCheck), [{"username": "hank", "attribute": "Expiration", "op": ":=",
                                                   "value": "01 Jan 2030 00:00:00"}])

        with pytest.raises(DBAPIError):
            atomic(killed_then_more)
        db.session.remove()
    assert counts(xa_app, "hank") == (0, 0)
    assert _in_doubt(xa_app) == []


def _kill(app, conn_id: int) -> None:
    engine = binds.radius_engine(app)
    with engine.connect() as conn:
        conn.exec_driver_sql(f"KILL CONNECTION {int(conn_id)}")
    engine.dispose()


CRASH = """
import os, sys
from isp.radius import xa
from isp.transaction import atomic
from tests.conftest import make_test_app
from tests.radius_core.test_atomic import _unit

url, point, name = sys.argv[1:4]

def hook(reached):
    if reached == point:
        os._exit(3)  # a crash: no rollback, no XA COMMIT, the connections just drop

xa._hook = hook
app = make_test_app(url, RADIUS_TWO_PHASE=True)
with app.app_context():
    atomic(_unit(name, ["pw"]))
print("no crash")
"""


def _crash_at(app, point: str, name: str) -> None:
    """Run a unit in another process that dies at `point` of the commit."""
    done = subprocess.run([sys.executable, "-c", CRASH, app.config["SQLALCHEMY_DATABASE_URI"], point, name],
                          cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stdout + done.stderr


def test_crash_after_our_commit_is_recovered_as_committed(xa_app):
    _crash_at(xa_app, "decided", "ivan")
    assert counts(xa_app, "ivan") == (1, 0)  # ours committed; the radius branch prepared, invisible, in doubt
    assert len(_in_doubt(xa_app)) == 1
    assert xa.recover(xa_app) == {"committed": 1, "rolled_back": 0}
    assert counts(xa_app, "ivan") == (1, 1)
    assert _in_doubt(xa_app) == []


def test_crash_before_our_commit_is_recovered_as_rolled_back(xa_app):
    _crash_at(xa_app, "prepared", "jane")
    assert counts(xa_app, "jane") == (0, 0)  # ours died uncommitted; the radius branch prepared, in doubt
    assert len(_in_doubt(xa_app)) == 1
    assert xa.recover(xa_app) == {"committed": 0, "rolled_back": 1}
    assert counts(xa_app, "jane") == (0, 0)
    assert _in_doubt(xa_app) == []


def test_recovery_is_a_no_op_when_the_radius_tables_share_our_transaction(app):
    assert xa.recover(app) == {"committed": 0, "rolled_back": 0}


def test_worker_start_runs_recovery(xa_app):
    """`flask worker` settles an in-doubt branch before it serves jobs."""
    _crash_at(xa_app, "decided", "lena")
    result = xa_app.test_cli_runner().invoke(args=["worker", "--burst", "--queues", "bulk"])
    assert result.exit_code == 0, result.output
    assert counts(xa_app, "lena") == (1, 1)
    assert _in_doubt(xa_app) == []


def test_flask_radius_recover_settles_by_hand(xa_app):
    """`flask radius recover`, for an operator who cannot wait for a restart."""
    _crash_at(xa_app, "decided", "kate")
    result = xa_app.test_cli_runner().invoke(args=["radius", "recover"])
    assert result.exit_code == 0, result.output
    assert "1 committed, 0 rolled back" in result.output
    assert counts(xa_app, "kate") == (1, 1)


def test_atomic_retries_a_deadlock_across_both_databases(xa_app):
    from tests.radius_core.test_atomic import deadlock_once

    unit, runs = deadlock_once("pete")
    with xa_app.app_context():
        atomic(unit)
        db.session.remove()
    assert runs["n"] == 2
    assert counts(xa_app, "pete") == (1, 1)
    assert _in_doubt(xa_app) == [] and _logged(xa_app) == 1


def test_a_unit_that_only_reads_radius_rows_needs_no_decision(xa_app):
    with xa_app.app_context():
        atomic(_unit("quinn", ["pw"]))

        def read_and_write_ours():
            users.create_user("rita", TEST_PASSWORD, Role.operator)
            return db.session.scalar(select(func.count()).select_from(RadCheck).where(RadCheck.username == "quinn"))

        assert atomic(read_and_write_ours) == 1
        db.session.remove()
    assert counts(xa_app, "rita") == (1, 0)
    assert _logged(xa_app) == 1 and _in_doubt(xa_app) == []  # only quinn's unit was decided


def test_rows_pending_until_the_commit_are_committed_too(xa_app):
    """No flush before the commit: the radius branch opens inside it and is still decided and committed."""
    with xa_app.app_context():
        def work():
            users.create_user("sam", TEST_PASSWORD, Role.operator)
            db.session.add(RadCheck(username="sam", attribute="Cleartext-Password", op=":=", value="pw"))

        atomic(work)
        db.session.remove()
    assert counts(xa_app, "sam") == (1, 1)
    assert _in_doubt(xa_app) == [] and _logged(xa_app) == 1


def test_a_core_select_over_radius_tables_reaches_the_radius_database(xa_app):
    """Flask-SQLAlchemy routes a select without a mapper to the default bind; the coordinator routes it by its tables."""
    with xa_app.app_context():
        atomic(_unit("tina", ["pw"]))
        table = RadCheck.__table__
        assert db.session.scalar(select(func.count()).select_from(table).where(table.c.username == "tina")) == 1
        db.session.remove()
