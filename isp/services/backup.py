"""Backups of both databases (ours and the radius bind) into one checked archive, and their restore.

The archive is a tar.gz holding the data and a `manifest.json`: app version, both alembic revisions, dialect,
creation time (UTC), row counts per table, ledger totals and the SHA-256 of every other member. It never holds
a secret beyond what the database itself holds (passwords and router secrets are Fernet-encrypted there, so a
restore needs the same ISP_ENCRYPTION_KEY). SQLite is copied with the online backup API (consistent while the
app runs); MySQL/MariaDB with `mysqldump --single-transaction` (one snapshot over both schemas when they share
a server), its credentials in a 0600 option file, never on a command line. The CLI (`flask backup`) commits.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask import Flask
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from isp.radius import binds

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite3"
# Version tables and the XA decision log are bookkeeping: a freshly migrated database has them, so they never
# make a database "non-empty"; alert_rules is seeded by migration 0014.
BOOKKEEPING = {"alembic_version", "alembic_version_radius", "isp_xa_log", "alert_rules"}
_CHUNK = 1 << 20


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


@dataclass
class Target:
    """One MySQL server to dump or load: connection options and the databases on it (role -> name)."""

    url: URL
    databases: dict[str, str] = field(default_factory=dict)
    member: str = "main.sql"


# -- facts about the running app ---------------------------------------------------------------------------------


def app_version() -> str:
    """The project's version from pyproject.toml ("unknown" when absent)."""
    import tomllib

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "pyproject.toml")
    try:
        with open(path, "rb") as fh:
            return str(tomllib.load(fh)["project"]["version"])
    except (OSError, KeyError, ValueError):
        return "unknown"


def _scripts(app: Flask) -> dict[str, Any]:
    """The alembic script directories of both chains (ours and the radius bind's)."""
    from alembic.script import ScriptDirectory

    ours = app.extensions["migrate"].directory
    return {"main": ScriptDirectory(os.path.abspath(ours)), "radius": ScriptDirectory(binds.MIGRATIONS)}


def _revision(engine: Engine, table: str) -> str | None:
    """The revision stamped in a version table, or None when the table is absent or empty."""
    if not inspect(engine).has_table(table):
        return None
    with engine.connect() as conn:
        return conn.exec_driver_sql(f"SELECT version_num FROM {table}").scalar()


def _main_engine(app: Flask) -> Engine:
    """A short-lived engine on our database, without the radius schema translation."""
    return create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=NullPool)


def _separate_radius(app: Flask) -> bool:
    """True when the radius tables live in a database of their own (not in ours)."""
    plan = binds.plan(app)
    return plan.mode == binds.TWO_PHASE or plan.main_schema is not None


def counts(engine: Engine) -> dict[str, int]:
    """Rows per table of the database behind `engine`."""
    names = sorted(inspect(engine).get_table_names())
    q = engine.dialect.identifier_preparer.quote
    with engine.connect() as conn:
        return {name: int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {q(name)}").scalar() or 0) for name in names}


def ledger_totals(engine: Engine) -> dict[str, str | int]:
    """Accounts, entries, the sum of balances and the sum of entries (equal in a healthy ledger)."""
    if not inspect(engine).has_table("ledger_accounts"):
        return {}
    with engine.connect() as conn:
        accounts, balances = conn.execute(text("SELECT COUNT(*), COALESCE(SUM(balance), 0) FROM ledger_accounts")).one()
        entries, amounts = conn.execute(text("SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM ledger_entries")).one()
    money = lambda v: str(Decimal(str(v)).quantize(Decimal("0.01")))  # noqa: E731
    return {"accounts": int(accounts), "entries": int(entries), "balance_sum": money(balances), "entry_sum": money(amounts)}


def state(app: Flask) -> dict[str, Any]:
    """Row counts of both databases, ledger totals and revisions of the configured instance."""
    main = _main_engine(app)
    radius = binds.radius_engine(app) if _separate_radius(app) else None
    try:
        return {"counts": {"main": counts(main), **({"radius": counts(radius)} if radius is not None else {})},
                "ledger": ledger_totals(main),
                "revisions": {"main": _revision(main, "alembic_version"),
                              "radius": _revision(radius or main, "alembic_version_radius")}}
    finally:
        main.dispose()
        if radius is not None:
            radius.dispose()


def is_empty(snapshot: dict[str, Any]) -> bool:
    """True when no table beyond the bookkeeping ones holds a row."""
    return not any(n for rows in snapshot["counts"].values() for t, n in rows.items() if t not in BOOKKEEPING)


# -- SQLite ------------------------------------------------------------------------------------------------------


def _sqlite_path(app: Flask) -> str:
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if not url.database or url.database == ":memory:":
        raise BackupError("the database is in memory: there is nothing on disk to back up or restore into")
    return os.path.abspath(url.database)


def _sqlite_copy(source: str, dest: str, standalone: bool = True) -> None:
    """Copy a live SQLite database page by page (the online backup API); `standalone`: one file, no -wal beside it."""
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(dest, timeout=30)
    try:
        src.backup(dst)
        if standalone:
            dst.execute("PRAGMA journal_mode=DELETE")
    finally:
        dst.close()
        src.close()


def _sqlite_check(path: str) -> None:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        result = conn.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"the database in the archive is not a readable SQLite file ({exc})") from None
    finally:
        conn.close()
    if result != "ok":
        raise BackupError(f"the database in the archive fails SQLite's check: {result}")


# -- MySQL/MariaDB -------------------------------------------------------------------------------------------------


def _mysql_targets(app: Flask) -> list[Target]:
    """The servers to dump or load: ours (with the radius database when it shares the server), and the radius one."""
    plan = binds.plan(app)
    main = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    targets = [Target(main, {"main": main.database or ""})]
    if plan.mode == binds.TWO_PHASE:
        radius = make_url(plan.url)
        targets.append(Target(radius, {"radius": radius.database or ""}, "radius.sql"))
    elif plan.main_schema is not None:
        targets[0].databases["radius"] = plan.main_schema
    return targets


def _option(value: object) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@contextlib.contextmanager
def _defaults_file(url: URL) -> Iterator[str]:
    """A 0600 option file with the server's credentials, so no password shows in `ps`."""
    fd, path = tempfile.mkstemp(prefix="isp-backup-", suffix=".cnf")
    try:
        os.fchmod(fd, 0o600)
        lines = ["[client]", f"user={_option(url.username or '')}", f"password={_option(url.password or '')}",
                 f"host={_option(url.host or 'localhost')}", f"port={int(url.port or 3306)}",
                 "default-character-set=utf8mb4"]
        if url.query.get("unix_socket"):
            lines.append(f"socket={_option(url.query['unix_socket'])}")
        with os.fdopen(fd, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _tool(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise BackupError(f"{names[0]} is not installed (Debian: apt-get install mariadb-client)")


def _mysql_dump(target: Target, dest: str) -> None:
    """One mysqldump of the target's databases in one transaction (USE lines tell them apart)."""
    tool = _tool("mysqldump", "mariadb-dump")
    with _defaults_file(target.url) as cnf, open(dest, "wb") as out:
        args = [tool, f"--defaults-file={cnf}", "--single-transaction", "--routines", "--triggers", "--hex-blob",
                "--no-tablespaces", "--no-create-db", "--databases", *target.databases.values()]
        proc = subprocess.run(args, stdout=out, stderr=subprocess.PIPE, check=False)
    if proc.returncode:
        raise BackupError(f"mysqldump failed: {proc.stderr.decode(errors='replace').strip()[:500]}")


_STRING = re.compile(r"'(?:[^'\\]|\\.)*'")
_INSERT = re.compile(r"INSERT INTO `([^`]+)`")
_USE = re.compile(rb"^USE `([^`]+)`;\s*$")


def dump_counts(path: str, roles: dict[str, str]) -> dict[str, dict[str, int]]:
    """Rows per table in a mysqldump file (each value tuple opens one top-level parenthesis outside strings)."""
    by_name = {name: role for role, name in roles.items()}
    result: dict[str, dict[str, int]] = {role: {} for role in roles}
    role, table = next(iter(roles)), None
    with open(path, "rb") as fh:
        for raw in fh:
            use = _USE.match(raw)
            if use:
                role = by_name.get(use.group(1).decode(), role)
                continue
            line = raw.decode("utf-8", errors="replace")
            if line.startswith("CREATE TABLE `"):
                result[role].setdefault(line.split("`")[1], 0)
                continue
            match = _INSERT.match(line)
            if match:
                table, line = match.group(1), line[match.end():]
                line = line.split(" VALUES", 1)[1] if " VALUES" in line else line
            if table is None:
                continue
            stripped = _STRING.sub("", line)
            result[role][table] = result[role].get(table, 0) + stripped.count("(")
            if stripped.rstrip().endswith(";"):
                table = None
    return result


def _drop_all(engine: Engine) -> None:
    """Drop every table and view of the database behind `engine` (foreign keys off for the drop)."""
    inspector = inspect(engine)
    q = engine.dialect.identifier_preparer.quote
    with engine.begin() as conn:
        conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
        for view in inspector.get_view_names():
            conn.exec_driver_sql(f"DROP VIEW IF EXISTS {q(view)}")
        for table in inspector.get_table_names():
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {q(table)}")
        conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=1")


def _mysql_load(target: Target, source: str, renames: dict[bytes, bytes]) -> None:
    """Feed a dump to `mysql`, its USE lines pointed at the configured databases."""
    tool = _tool("mysql", "mariadb")
    with _defaults_file(target.url) as cnf:
        proc = subprocess.Popen([tool, f"--defaults-file={cnf}", "--batch"], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert proc.stdin is not None
        try:
            with open(source, "rb") as fh:
                for raw in fh:
                    use = _USE.match(raw)
                    proc.stdin.write(b"USE `" + renames.get(use.group(1), use.group(1)) + b"`;\n" if use else raw)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        err = proc.stderr.read() if proc.stderr else b""
        if proc.wait():
            raise BackupError(f"loading the dump failed: {err.decode(errors='replace').strip()[:500]}")


# -- the archive -----------------------------------------------------------------------------------------------------


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def create(app: Flask, output: str | None = None) -> tuple[str, dict[str, Any]]:
    """Back up both databases into `output` (default BACKUP_DIR); returns the archive's path and its manifest."""
    output = os.path.abspath(output or app.config["BACKUP_DIR"])
    os.makedirs(output, mode=0o700, exist_ok=True)
    dialect = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name()
    now = datetime.now(UTC)
    before = state(app)
    with tempfile.TemporaryDirectory(prefix="isp-backup-", dir=output) as work:
        members: list[str] = []
        if dialect == "sqlite":
            copy = os.path.join(work, SQLITE_MEMBER)
            _sqlite_copy(_sqlite_path(app), copy)
            engine = create_engine(f"sqlite:///{copy}", poolclass=NullPool)
            try:
                table_counts, ledger = {"main": counts(engine)}, ledger_totals(engine)
            finally:
                engine.dispose()
            members.append(SQLITE_MEMBER)
            databases: dict[str, str] = {}
            layout: dict[str, list[str]] = {SQLITE_MEMBER: ["main"]}
        else:
            table_counts, databases, layout = {}, {}, {}
            ledger = before["ledger"]  # read just before the dump; the counts below come from the dump itself
            for target in _mysql_targets(app):
                path = os.path.join(work, target.member)
                _mysql_dump(target, path)
                table_counts.update(dump_counts(path, target.databases))
                databases.update(target.databases)
                members.append(target.member)
                layout[target.member] = sorted(target.databases)
        manifest = {
            "format": FORMAT, "app_version": app_version(), "dialect": dialect,
            "radius_mode": binds.mode(app), "databases": databases, "layout": layout,
            "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "revisions": before["revisions"],
            "counts": table_counts, "ledger": ledger,
            "sha256": {name: _sha256(os.path.join(work, name)) for name in members},
            "note": "secrets in the data are encrypted with ISP_ENCRYPTION_KEY, which this archive does not hold",
            "ledger_read": "from the copy" if dialect == "sqlite" else "in its own snapshot just before the dump",
        }
        final = os.path.join(output, f"isp-backup-{now.strftime('%Y%m%dT%H%M%SZ')}.tar.gz")
        partial = final + ".part"
        with tarfile.open(partial, "w:gz") as tar:
            data = json.dumps(manifest, indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(data), int(now.timestamp()), 0o600
            tar.addfile(info, io.BytesIO(data))
            for name in members:
                tar.add(os.path.join(work, name), arcname=name)
        os.chmod(partial, 0o600)
        os.replace(partial, final)
    return final, manifest


def open_archive(path: str, work: str) -> dict[str, Any]:
    """Unpack an archive into `work` and verify every checksum; returns the manifest (BackupError when damaged)."""
    if not os.path.isfile(path):
        raise BackupError(f"{path}: no such file")
    try:
        with tarfile.open(path, "r:gz") as tar:
            names = tar.getnames()
            if MANIFEST not in names:
                raise BackupError(f"{path} is not an isp backup (no {MANIFEST} inside)")
            manifest = json.loads(tar.extractfile(MANIFEST).read())  # type: ignore[union-attr]
            expected = manifest.get("sha256") or {}
            if not isinstance(expected, dict) or set(names) - {MANIFEST} != set(expected):
                raise BackupError(f"{path}: the members do not match the manifest's list")
            for member in tar.getmembers():
                if member.name == MANIFEST:
                    continue
                if not member.isfile() or "/" in member.name or member.name.startswith("."):
                    raise BackupError(f"{path}: unexpected member {member.name!r}")
                source = tar.extractfile(member)
                assert source is not None
                digest = hashlib.sha256()
                with open(os.path.join(work, member.name), "wb") as out:
                    for chunk in iter(functools.partial(source.read, _CHUNK), b""):
                        digest.update(chunk)
                        out.write(chunk)
                if digest.hexdigest() != expected[member.name]:
                    raise BackupError(f"{path} is damaged: the checksum of {member.name} does not match the manifest")
    except (tarfile.TarError, EOFError, OSError, zlib.error, ValueError, UnicodeDecodeError) as exc:
        raise BackupError(f"{path} is damaged or not a backup archive ({type(exc).__name__}: {exc})") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: backup format {manifest.get('format')!r} is not supported by this version")
    return manifest


def _check_revisions(app: Flask, manifest: dict[str, Any]) -> bool:
    """Refuse a backup newer than the code; True when the restored data needs `flask db upgrade`."""
    older = False
    for chain, script in _scripts(app).items():
        revision = (manifest.get("revisions") or {}).get(chain)
        if revision is None:
            continue
        try:
            known = script.get_revision(revision)
        except Exception:  # noqa: BLE001 (alembic raises several kinds for an unknown id)
            known = None
        if known is None:
            raise BackupError(f"the backup's {chain} schema is at revision {revision!r}, which this code does not know: "
                              f"it comes from a newer version of the app; upgrade the app, then restore")
        older = older or revision not in script.get_heads()
    return older


def restore(app: Flask, path: str, force: bool = False) -> dict[str, Any]:
    """Verify an archive, then replace both configured databases with its content; returns the restored state."""
    dialect = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name()
    parent = app.config.get("BACKUP_DIR") if os.path.isdir(app.config.get("BACKUP_DIR") or "") else None
    with tempfile.TemporaryDirectory(prefix="isp-restore-", dir=parent) as work:
        manifest = open_archive(path, work)
        if manifest.get("dialect") != dialect:
            raise BackupError(f"the backup is of a {manifest.get('dialect')} database; this app is configured for "
                              f"{dialect}: restore it into a {manifest.get('dialect')} instance")
        upgrade_needed = _check_revisions(app, manifest)
        if dialect != "sqlite":
            _check_layout(app, manifest)
        current = state(app)
        if not force and not is_empty(current):
            raise BackupError("the configured database is not empty: restoring replaces everything in it; "
                              "run again with --yes to confirm")
        from isp.extensions import db

        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
        if dialect == "sqlite":
            _sqlite_check(os.path.join(work, SQLITE_MEMBER))
            os.makedirs(os.path.dirname(_sqlite_path(app)), exist_ok=True)
            _sqlite_copy(os.path.join(work, SQLITE_MEMBER), _sqlite_path(app), standalone=False)
        else:
            _restore_mysql(app, manifest, work)
        if upgrade_needed:
            from flask_migrate import upgrade

            with app.app_context():
                upgrade(directory=app.extensions["migrate"].directory)
    restored = state(app)
    restored["manifest"] = manifest
    restored["upgraded"] = upgrade_needed
    if not upgrade_needed:
        for role, rows in (manifest.get("counts") or {}).items():
            for table, n in rows.items():
                have = restored["counts"].get(role, restored["counts"]["main"]).get(table)
                if have != n:
                    raise BackupError(f"after the restore {table} has {have} rows, the backup says {n}")
    return restored


def _check_layout(app: Flask, manifest: dict[str, Any]) -> None:
    """Refuse, before touching anything, a backup whose dumps do not map onto the configured servers one to one."""
    want = {target.member: sorted(target.databases) for target in _mysql_targets(app)}
    have = {member: sorted(roles) for member, roles in (manifest.get("layout") or {}).items()}
    if want != have:
        raise BackupError(f"the backup was taken with the radius database in the {manifest.get('radius_mode')!r} layout "
                          f"and this app is configured {binds.mode(app)!r}: configure DATABASE_URL/RADIUS_DATABASE_URL "
                          f"(and RADIUS_TWO_PHASE) as they were, restore, then move the radius tables")


def _restore_mysql(app: Flask, manifest: dict[str, Any], work: str) -> None:
    """Drop the configured databases' tables and load the dumps, each into the database configured for its role."""
    names = manifest.get("databases") or {}
    main_engine = _main_engine(app)
    radius_engine = binds.radius_engine(app) if _separate_radius(app) else None
    try:
        for target in _mysql_targets(app):
            renames = {names[role].encode(): name.encode() for role, name in target.databases.items()}
            for role in target.databases:
                _drop_all(main_engine if role == "main" else (radius_engine or main_engine))
            _mysql_load(target, os.path.join(work, target.member), renames)
    finally:
        main_engine.dispose()
        if radius_engine is not None:
            radius_engine.dispose()
