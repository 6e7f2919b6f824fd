"""The unit of work: committed once, re-run whole after a deadlock or lock timeout, never retried otherwise."""
from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError, OperationalError

from isp import transaction
from isp.models import AuditEntry
from isp.services import audit
from isp.services.errors import ServiceError
from isp.transaction import atomic, retryable


@contextmanager
def lock_errors(engine, table: str, fail: set[int]):
    """Make the driver refuse the INSERTs into `table` numbered in `fail` (1 = the first one) as under contention.

    MariaDB answers 1213 (deadlock, transaction rolled back); SQLite answers "database is locked".
    Raised inside the driver call, so SQLAlchemy wraps it exactly as it wraps the real thing.
    """
    dbapi, seen = engine.dialect.loaded_dbapi, {"n": 0}

    def do_execute(cursor, statement, parameters, context):
        if statement.lstrip().upper().startswith(f"INSERT INTO {table.upper()}"):
            seen["n"] += 1
            if seen["n"] in fail:
                if engine.dialect.name == "sqlite":
                    raise dbapi.OperationalError("database is locked")
                raise dbapi.OperationalError(1213, "Deadlock found when trying to get lock; try restarting transaction")
        return None  # let the driver run it

    event.listen(engine, "do_execute", do_execute)
    try:
        yield
    finally:
        event.remove(engine, "do_execute", do_execute)


@pytest.fixture
def commits(db):
    """How many times the request's session committed."""
    seen = {"n": 0}

    def count(session):
        seen["n"] += 1

    session = db.session()
    event.listen(session, "after_commit", count)
    yield seen
    event.remove(session, "after_commit", count)


@pytest.fixture(autouse=True)
def _no_pause(monkeypatch):
    monkeypatch.setattr(transaction, "PAUSE", 0.0)


def _actions(db) -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def _wrapped(code: int, message: str) -> OperationalError:
    """An error as SQLAlchemy raises it from pymysql on MariaDB."""
    import pymysql

    return OperationalError("INSERT ...", {}, pymysql.err.OperationalError(code, message))


def test_a_deadlock_mid_unit_reruns_the_whole_unit_and_commits_once(db, commits):
    runs = {"n": 0}

    def work():
        runs["n"] += 1
        audit.record(None, "first")
        db.session.flush()  # the first statement succeeds on both runs
        audit.record(None, "second")
        db.session.flush()  # the second one is the deadlock victim on the first run
        return "done"

    with lock_errors(db.engine, "audit_log", fail={2}):
        assert atomic(work) == "done"

    assert runs["n"] == 2
    assert commits["n"] == 1
    assert _actions(db) == ["first", "second"]  # the first run's row was rolled back, not kept twice


def test_an_injected_1213_is_retried_once_then_committed(db, commits):
    runs = {"n": 0}

    def work():
        runs["n"] += 1
        audit.record(None, f"run {runs['n']}")
        db.session.flush()
        if runs["n"] == 1:
            raise _wrapped(1213, "Deadlock found when trying to get lock; try restarting transaction")
        return runs["n"]

    assert atomic(work) == 2
    assert runs["n"] == 2 and commits["n"] == 1
    assert _actions(db) == ["run 2"]


@pytest.mark.parametrize("error", [
    ServiceError("Balance too low.", field="count"),
    _wrapped(2006, "MySQL server has gone away"),
    IntegrityError("INSERT ...", {}, Exception(1062, "Duplicate entry 'X' for key 'uq_vouchers_code'")),
], ids=["service-error", "gone-away", "duplicate"])
def test_other_errors_roll_back_and_are_not_retried(db, commits, error):
    runs = {"n": 0}

    def work():
        runs["n"] += 1
        audit.record(None, "half done")
        db.session.flush()
        raise error

    with pytest.raises(type(error)):
        atomic(work)
    assert runs["n"] == 1 and commits["n"] == 0
    assert _actions(db) == []


def test_a_lock_error_on_every_run_is_raised_after_the_last(db, commits):
    runs = {"n": 0}

    def work():
        runs["n"] += 1
        audit.record(None, "never")
        db.session.flush()

    with lock_errors(db.engine, "audit_log", fail=set(range(1, 10))), pytest.raises(OperationalError):
        atomic(work, retries=3)
    assert runs["n"] == 3 and commits["n"] == 0
    assert _actions(db) == []


def test_a_lock_error_at_commit_reruns_the_unit(db, commits):
    runs = {"n": 0}

    def work():
        runs["n"] += 1
        audit.record(None, "flushed by the commit")  # no flush here: the INSERT runs inside commit()

    with lock_errors(db.engine, "audit_log", fail={1}):
        atomic(work)
    assert runs["n"] == 2 and commits["n"] == 1
    assert _actions(db) == ["flushed by the commit"]


@pytest.mark.parametrize(("error", "expected"), [
    (_wrapped(1213, "Deadlock found"), True),
    (_wrapped(1205, "Lock wait timeout exceeded; try restarting transaction"), True),
    (OperationalError("INSERT ...", {}, __import__("sqlite3").OperationalError("database is locked")), True),
    (_wrapped(1062, "Duplicate entry"), False),
    (OperationalError("SELECT ...", {}, __import__("sqlite3").OperationalError("no such table: x")), False),
    (ValueError("database is locked"), False),
])
def test_only_deadlocks_and_lock_timeouts_are_retryable(error, expected):
    assert retryable(error) is expected


def test_a_real_deadlock_on_mariadb_is_retried_and_both_units_finish(app, make_user):
    """Two units lock two accounts in opposite order: InnoDB kills one with 1213, atomic runs it again."""
    import threading

    from sqlalchemy import update

    from isp.extensions import db as _db
    from isp.models import User

    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("mysql"):
        pytest.skip("needs InnoDB's deadlock detector (run with TEST_DATABASE_URL=mysql://...)")
    first, second = make_user("operator").id, make_user("operator").id
    both_hold_one = threading.Barrier(2, timeout=10)
    runs: list[str] = []
    results: dict[str, str] = {}

    def unit(name: str, order: tuple[int, int]):
        def work():
            runs.append(name)
            _db.session.execute(update(User).where(User.id == order[0]).values(full_name=name))
            if runs.count(name) == 1:
                both_hold_one.wait()  # each holds its first row before asking for the other's
            _db.session.execute(update(User).where(User.id == order[1]).values(full_name=name))
            return name

        with app.app_context():
            try:
                results[name] = atomic(work)
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=unit, args=("a", (first, second))),
               threading.Thread(target=unit, args=("b", (second, first)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == {"a": "a", "b": "b"}  # neither operator saw an error
    assert len(runs) == 3  # the deadlock victim ran a second time, whole
    with app.app_context():
        names = set(_db.session.scalars(select(User.full_name).where(User.id.in_([first, second]))))
    assert len(names) == 1  # the unit that committed last wrote both rows: no half-applied unit


def test_a_deadlock_inside_a_savepoint_is_retryable_through_the_failed_rollback():
    """MariaDB drops the whole transaction on 1213, so ROLLBACK TO SAVEPOINT then fails with 1305."""
    try:
        try:
            raise _wrapped(1213, "Deadlock found")
        except OperationalError:
            raise _wrapped(1305, "SAVEPOINT sa_savepoint_1 does not exist")  # noqa: B904 - as SQLAlchemy chains it
    except OperationalError as surfaced:
        assert retryable(surfaced)
    assert not retryable(_wrapped(1305, "SAVEPOINT sa_savepoint_1 does not exist"))


def test_isolated_rows_pass_a_deadlock_up_instead_of_blaming_a_row(app):
    from isp.services import job_problems

    def work(rows):
        raise _wrapped(1213, "Deadlock found")

    with app.app_context():
        with pytest.raises(OperationalError):
            job_problems.isolated("test job", [1, 2], work, str)
        assert job_problems.recent() == []  # no row is listed as bad for it
