"""Where the radius tables live, and how one unit of work commits in both databases or in neither.

The radius models are declared in a placeholder schema, `RADIUS_SCHEMA`, which each engine translates
(`schema_translate_map`) to where the tables really are. Three modes, chosen from the two URLs at start:

- `same-file` (SQLite): RADIUS_DATABASE_URL is the main file (the default). The radius bind IS the main
  engine and the placeholder means "no schema": one connection, one transaction, one file. A different
  SQLite file is refused at start (ATTACH would not be atomic under WAL if the machine crashes mid-commit).
- `same-server` (MySQL/MariaDB): both databases on one server with the same credentials. The radius bind IS
  the main engine and the placeholder becomes the radius database's name (`isp_radius`.`radcheck`):
  one connection, one transaction.
- `two-phase`: the radius database is on another server (or RADIUS_TWO_PHASE=1 forces this mode). The
  radius bind is its own engine and the radius side of a unit runs as an XA transaction committed after
  ours by a record written in ours (see `isp/radius/xa.py`).

Other code just uses `db.session` with the models in `isp/radius/models.py`; `mode(app)` tells which
mode runs (for reports and tests); `radius_engine(app)` is an engine on the radius database itself
(migrations, `flask radius check-schema`, XA recovery).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from isp.config import ConfigError, _redact

RADIUS_SCHEMA = "__radius__"  # a name no real database has: an engine without the translation fails loudly
SAME_FILE, SAME_SERVER, TWO_PHASE = "same-file", "same-server", "two-phase"
MODES = (SAME_FILE, SAME_SERVER, TWO_PHASE)
EXTENSION = "isp_radius"


@dataclass(frozen=True)
class Plan:
    """How the radius bind is reached: the mode, its URL, and what the placeholder schema becomes on the main engine."""

    mode: str
    url: str
    main_schema: str | None


def _radius_url(config: Any) -> str:
    """The radius bind's URL from SQLALCHEMY_BINDS (a string or a Flask-SQLAlchemy options dict)."""
    value = (config.get("SQLALCHEMY_BINDS") or {}).get("radius") or config["SQLALCHEMY_DATABASE_URI"]
    return str(value["url"] if isinstance(value, dict) else value)


def _sqlite_path(url: Any) -> str:
    """The absolute path of an SQLite URL's file (or ':memory:')."""
    database = url.database or ":memory:"
    return database if database == ":memory:" else os.path.abspath(database)


def plan_for(config: Any) -> Plan:
    """Choose the mode from the main and radius URLs (and RADIUS_TWO_PHASE); ConfigError when unsupported."""
    main_raw = str(config["SQLALCHEMY_DATABASE_URI"])
    radius_raw = _radius_url(config)
    main, radius = make_url(main_raw), make_url(radius_raw)
    forced = bool(config.get("RADIUS_TWO_PHASE"))
    main_backend, radius_backend = main.get_backend_name(), radius.get_backend_name()
    if main_backend == "sqlite" or radius_backend == "sqlite":
        if main_backend != radius_backend or _sqlite_path(main) != _sqlite_path(radius):
            raise ConfigError(
                f"RADIUS_DATABASE_URL={_redact(radius_raw)!r}: with SQLite the radius tables must live in the same "
                f"file as DATABASE_URL (leave RADIUS_DATABASE_URL unset), so one transaction covers both; "
                f"a second SQLite file or a SQLite/MySQL mix is not supported")
        if forced:
            raise ConfigError("RADIUS_TWO_PHASE=1 needs MySQL/MariaDB for both databases (SQLite has no XA)")
        return Plan(SAME_FILE, radius_raw, None)
    if main_backend not in ("mysql", "mariadb") or radius_backend not in ("mysql", "mariadb"):
        raise ConfigError(f"RADIUS_DATABASE_URL={_redact(radius_raw)!r} is not a MySQL/MariaDB URL")
    same_server = (
        (main.host or "localhost", main.port or 3306, main.username, main.password, dict(main.query))
        == (radius.host or "localhost", radius.port or 3306, radius.username, radius.password, dict(radius.query))
    )
    if same_server and not forced:
        return Plan(SAME_SERVER, radius_raw, None if radius.database == main.database else radius.database)
    return Plan(TWO_PHASE, radius_raw, None)


def init_app(app: Flask, db: Any) -> None:
    """Route the radius bind after `db.init_app(app)`: the main engine itself (same file/server), or its own engine."""
    plan = plan_for(app.config)
    with app.app_context():
        engines = db.engines
        own = engines.pop("radius", None)
        main = engines[None].execution_options(schema_translate_map={RADIUS_SCHEMA: plan.main_schema})
        engines[None] = main
        if plan.mode == TWO_PHASE:
            engines["radius"] = _make_radius_engine(app, plan)
        else:
            engines["radius"] = main
        if own is not None:
            own.dispose()
    app.extensions[EXTENSION] = {"plan": plan, "engine": engines["radius"] if plan.mode == TWO_PHASE else None}
    if plan.mode == TWO_PHASE:
        from isp.radius import xa

        xa.init_app(app, db)


def _make_radius_engine(app: Flask, plan: Plan, **extra: Any) -> Engine:
    """An engine on the radius database itself, the placeholder meaning no schema (same pool options as ours)."""
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    options.update(extra)
    options["execution_options"] = {**options.get("execution_options", {}), "schema_translate_map": {RADIUS_SCHEMA: None}}
    return create_engine(plan.url, **options)


def plan(app: Flask | None = None) -> Plan:
    """The app's radius plan (mode, URL)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return app.extensions[EXTENSION]["plan"]


def mode(app: Flask | None = None) -> str:
    """`same-file`, `same-server` or `two-phase`: how the app reaches the radius tables."""
    return plan(app).mode


def radius_engine(app: Flask | None = None) -> Engine:
    """A short-lived engine on the radius database itself, unqualified (migrations, check-schema, recovery).

    The caller disposes it. In `same-file` mode it opens the main SQLite file a second time, so do not hold
    it open across a unit of work of the main session.
    """
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return _make_radius_engine(app, plan(app), poolclass=NullPool)


MIGRATIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                          "migrations_radius")


def upgrade(app: Flask | None = None, revision: str = "head") -> None:
    """Run the radius bind's own migration chain (migrations_radius/) on the radius database.

    `flask db upgrade` calls it after our chain (migrations/env.py); the chain is idempotent against an
    existing FreeRADIUS database. In `two-phase` mode it also creates the XA decision log in our database.
    """
    from alembic import command
    from alembic.config import Config

    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    with app.app_context():
        command.upgrade(config, revision)
        if mode(app) == TWO_PHASE:
            from isp.extensions import db
            from isp.radius import xa

            xa.ensure_log_table(db.engines[None])
