"""Two-phase commit to a radius database on another server: XA on the radius side, our commit as the decision.

In the `two-phase` mode (isp/radius/binds.py) the first radius statement of a unit opens a connection of
its own on the radius engine with `XA START '<xid>'` (SQLAlchemy's `begin_twophase`), and the session joins
it. Units that never touch the radius tables stay plain transactions on our database. Commit runs:

1. flush; insert the xid into `isp_xa_log` in OUR database, inside our transaction (a branch that only
   read is simply rolled back after our commit: nothing to decide);
2. `XA END` + `XA PREPARE` on the radius side (its rows are now durable but invisible, and can still go
   either way);
3. `COMMIT` on ours: the decision. The log row is committed with our rows, or neither is;
4. `XA COMMIT` on the radius side.

A failure before 3 rolls both back (`XA ROLLBACK`). A crash between 2 and 4 leaves the radius branch
"in doubt" (prepared; MariaDB keeps it across disconnects and restarts, holding its row locks).
`recover()` (run when a worker or the clock starts, and by `flask radius recover`) lists them with
`XA RECOVER` and settles each of ours by the record: its xid in `isp_xa_log` -> `XA COMMIT`, absent ->
`XA ROLLBACK`. It reads the record with a locking read, which waits for a unit still between steps 2 and 3
in a live process (that unit's uncommitted log row is locked), so recovery never races a live commit.

This is two-phase commit with our database as the "last resource": it needs no XA on our side, so
savepoints and every existing query keep working, and SQLAlchemy's `twophase=True` (which would put every
transaction of the app on XA and prepare/commit connections in no set order) is not used.
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import Column, DateTime, Engine, MetaData, String, Table, delete, event, select
from sqlalchemy.engine import Connection, TwoPhaseTransaction
from sqlalchemy.sql.util import find_tables

log = logging.getLogger(__name__)

PREFIX = "isp-"  # our xids; XA RECOVER also lists other applications' branches, which we leave alone
XA_LOG = Table(
    "isp_xa_log", MetaData(),
    Column("xid", String(64), primary_key=True),
    Column("created_at", DateTime, nullable=False),
)
KEEP_LOG = timedelta(days=1)
XA_NOTA, XA_RBROLLBACK = 1397, 1402  # unknown xid (already settled); branch already rolled back
STATE = "isp_xa"
READS = {"SELECT", "SHOW", "WITH", "XA REC"}  # a branch that ran only these needs no prepare: it is rolled back


def ensure_log_table(engine: Engine) -> None:
    """Create the decision log `isp_xa_log` in our database if it is missing (`flask db upgrade` runs it)."""
    XA_LOG.create(engine, checkfirst=True)


def new_xid() -> str:
    """A fresh transaction id: our prefix and 128 random bits (fits MySQL's 64-byte gtrid)."""
    return PREFIX + secrets.token_hex(16)


@dataclass
class Branch:
    """The radius side of one unit of work: its connection, XA transaction and xid."""

    connection: Connection
    transaction: TwoPhaseTransaction
    xid: str
    wrote: bool = False

    def saw(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        """before_cursor_execute: note the first statement that is not a read."""
        if not self.wrote and statement.lstrip()[:6].upper() not in READS:
            self.wrote = True


def _hook(point: str) -> None:
    """Test seam: failure-injection tests replace this to stop the process at a named point of the commit."""


class Coordinator:
    """db.session's coordinator in the two-phase mode (installed by init_app, called by isp.extensions.Session)."""

    def __init__(self, radius: Engine, ours: Engine) -> None:
        self.radius = radius
        self.ours = ours

    def bind(self, session: Any, found: Any, clause: Any = None) -> Any:
        """Hand out the unit's radius connection (XA started on first use) in place of the radius engine.

        Flask-SQLAlchemy picks the bind of a Core select over radius Tables (no mapper) as the default
        engine, harmless when both are one engine; here the clause's tables decide.
        """
        if found is self.ours and clause is not None and _reads_radius(clause):
            found = self.radius
        if found is not self.radius:
            return found
        branch: Branch | None = session.info.get(STATE)
        if branch is None:
            connection = self.radius.connect()
            xid = new_xid()
            branch = Branch(connection, connection.begin_twophase(xid), xid)
            event.listen(connection, "before_cursor_execute", branch.saw)
            session.info[STATE] = branch
        return branch.connection

    def commit(self, session: Any, commit_ours: Any) -> None:
        """Steps 1-4 of the module's protocol; a plain commit when the unit never touched the radius tables."""
        session.flush()  # first: pending radius rows open the branch only when they are flushed
        branch: Branch | None = session.info.get(STATE)
        if branch is None:
            commit_ours()
            return
        if not branch.wrote:  # the unit only read radius tables: nothing to decide
            try:
                commit_ours()
            finally:
                self._finish(session, commit=False)
            return
        try:
            session.execute(XA_LOG.insert().values(xid=branch.xid, created_at=_now()), bind_arguments={"bind": self.ours})
            _hook("before-prepare")
            branch.transaction.prepare()
            _hook("prepared")
        except BaseException:
            self._finish(session, commit=False)
            raise
        try:
            commit_ours()
        except BaseException:
            # Our COMMIT may have reached the server before the error (a connection lost on the reply): decide
            # by the record, as recovery would, instead of assuming it failed.
            session.info.pop(STATE, None)
            self._settle(branch)
            raise
        _hook("decided")
        self._finish(session, commit=True)

    def _settle(self, branch: Branch) -> None:
        """Commit or roll back a prepared branch by our record, read on a fresh connection of ours."""
        try:
            with self.ours.begin() as conn:
                decided = conn.execute(select(XA_LOG.c.xid).where(XA_LOG.c.xid == branch.xid).with_for_update()).first()
            if decided:
                branch.transaction.commit()
            else:
                branch.transaction.rollback()
        except Exception as err:  # noqa: BLE001 - left in doubt: recovery settles it
            log.error("radius XA branch %s left in doubt (%s); `flask radius recover` or the next worker/clock start "
                      "settles it by our record", branch.xid, err)
            branch.connection.invalidate()
        finally:
            branch.connection.close()

    def rollback(self, session: Any, rollback_ours: Any) -> None:
        """Roll back ours and the radius branch."""
        try:
            rollback_ours()
        finally:
            self._finish(session, commit=False)

    def close(self, session: Any, close_ours: Any) -> None:
        """Close the session; an unfinished radius branch is rolled back."""
        try:
            close_ours()
        finally:
            self._finish(session, commit=False)

    def _finish(self, session: Any, commit: bool) -> None:
        """XA COMMIT or XA ROLLBACK the radius branch (if still open) and release its connection."""
        branch: Branch | None = session.info.pop(STATE, None)
        if branch is None:
            return
        try:
            if branch.transaction.is_active:
                if commit:
                    branch.transaction.commit()
                else:
                    branch.transaction.rollback()
        except Exception as err:  # noqa: BLE001 - the decision stands; recovery settles the branch by the record
            log.error("radius XA branch %s: %s failed (%s); it stays in doubt until `flask radius recover` or the "
                      "next worker/clock start settles it by our record", branch.xid, "commit" if commit else "rollback", err)
            branch.connection.invalidate()
        finally:
            branch.connection.close()


def _reads_radius(clause: Any) -> bool:
    """True when a statement names a table of the radius bind."""
    try:
        tables = find_tables(clause, include_crud=True)
    except Exception:  # noqa: BLE001 - a clause find_tables cannot walk: leave it to the default bind
        return False
    return any(table.metadata.info.get("bind_key") == "radius" for table in tables)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def init_app(app: Flask, db: Any) -> None:
    """Install the coordinator on the app (binds.init_app calls this in the two-phase mode only)."""
    with app.app_context():
        app.extensions["isp_session_coordinator"] = Coordinator(db.engines["radius"], db.engines[None])


def in_doubt(connection: Connection) -> list[str]:
    """Our prepared-but-unsettled xids on this server (`XA RECOVER`)."""
    xids = []
    for row in connection.exec_driver_sql("XA RECOVER").mappings():
        data = row["data"]
        data = data.decode() if isinstance(data, (bytes, bytearray)) else str(data)
        gtrid = data[: int(row["gtrid_length"])]
        if int(row["bqual_length"]) == 0 and gtrid.startswith(PREFIX):
            xids.append(gtrid)
    return xids


def recover(app: Flask) -> dict[str, int]:
    """Settle our in-doubt radius branches by our record; returns {"committed": n, "rolled_back": n}.

    A no-op outside the two-phase mode. Also forgets decision records older than a day that no branch needs.
    """
    from isp.extensions import db
    from isp.radius import binds

    done = {"committed": 0, "rolled_back": 0}
    if binds.mode(app) != binds.TWO_PHASE:
        return done
    with app.app_context():
        ours = db.engines[None]
        ensure_log_table(ours)
        radius = binds.radius_engine(app)
        try:
            with radius.connect() as conn:
                pending = in_doubt(conn)
            for xid in pending:
                with ours.begin() as conn:  # the locking read waits for a live unit that has not decided yet
                    decided = conn.execute(select(XA_LOG.c.xid).where(XA_LOG.c.xid == xid).with_for_update()).first()
                verb = "COMMIT" if decided else "ROLLBACK"
                with radius.connect() as conn:
                    conn = conn.execution_options(isolation_level="AUTOCOMMIT")  # XA COMMIT/ROLLBACK outside any local one
                    try:
                        conn.exec_driver_sql(f"XA {verb} %s", (xid,))
                    except Exception as err:
                        code = getattr(getattr(err, "orig", None), "args", (None,))[0]
                        if code not in (XA_NOTA, XA_RBROLLBACK):
                            raise
                        continue
                done["committed" if decided else "rolled_back"] += 1
                log.warning("radius XA branch %s was in doubt: %s by our record", xid,
                            "committed" if decided else "rolled back")
            with ours.begin() as conn:
                stale = conn.execute(delete(XA_LOG).where(XA_LOG.c.created_at < _now() - KEEP_LOG,
                                                          XA_LOG.c.xid.not_in(pending or [""])))
                if stale.rowcount:
                    log.info("forgot %d settled XA decision records", stale.rowcount)
        finally:
            radius.dispose()
    return done


def recover_at_start(app: Flask) -> None:
    """Recovery for a worker or the clock starting: settle in-doubt branches, never stop the process over it."""
    try:
        done = recover(app)
    except Exception:
        log.exception("XA recovery of the radius database failed; in-doubt branches keep their row locks until it runs")
        return
    if done["committed"] or done["rolled_back"]:
        log.warning("XA recovery: %d radius branch(es) committed, %d rolled back", done["committed"], done["rolled_back"])
