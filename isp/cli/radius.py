"""`flask radius …`: the radius database's schema check and XA recovery by hand."""
from __future__ import annotations

import re
import warnings
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import Engine, MetaData, inspect
from sqlalchemy.exc import SAWarning

from isp.config import _redact
from isp.extensions import db
from isp.radius import binds

radius_cli = AppGroup("radius", help="FreeRADIUS database: schema check, in-doubt XA transactions.")

_INTEGERS = {"INT", "INTEGER", "MEDIUMINT", "SMALLINT", "TINYINT"}
_TIMES = {"DATETIME", "TIMESTAMP"}


def _loose(type_sql: str) -> str:
    """A type's family for a loose comparison: integer widths and time precision ignored, string lengths kept."""
    text = type_sql.upper()
    unsigned = " UNSIGNED" if "UNSIGNED" in text else ""
    match = re.match(r"\s*([A-Z]+)\s*(\((\d+)\))?", text)
    base, length = (match.group(1), match.group(3)) if match else (text, None)
    if base in _INTEGERS:
        return "INTEGER" + unsigned
    if base == "BIGINT":
        return "BIGINT" + unsigned
    if base in _TIMES:
        return "DATETIME"
    if base in ("VARCHAR", "CHAR"):
        return f"{base}({length})"
    return base + unsigned


def _applies(index: Any, dialect: str) -> bool:
    """True when the model declares this index for the dialect (upstream names them per dialect)."""
    dialects = index.info.get("dialects")
    return dialects is None or dialect in dialects


def schema_differences(engine: Engine, metadata: MetaData) -> tuple[list[str], list[str]]:
    """Compare the live database behind `engine` with the models' tables.

    Returns (differences, notes): a difference is something missing or changed that FreeRADIUS or the app
    relies on (table, column, loose type, nullability, primary key, index); a note is an extra table column
    or index an operator may have added, reported but harmless.
    """
    inspector = inspect(engine)
    dialect = engine.dialect
    live_tables = set(inspector.get_table_names())
    differences: list[str] = []
    notes: list[str] = []
    for table in metadata.sorted_tables:
        name = table.name
        if name not in live_tables:
            differences.append(f"table {name} is missing")
            continue
        with warnings.catch_warnings():  # SQLite's `int(12)`: the width is dropped, which is all we compare anyway
            warnings.filterwarnings("ignore", "Could not instantiate type", SAWarning)
            live_columns = {c["name"]: c for c in inspector.get_columns(name)}
        primary = set(inspector.get_pk_constraint(name).get("constrained_columns") or [])
        for column in table.columns:
            live = live_columns.get(column.name)
            if live is None:
                differences.append(f"column {name}.{column.name} is missing")
                continue
            want, have = _loose(column.type.compile(dialect=dialect)), _loose(live["type"].compile(dialect=dialect))
            if want != have:
                differences.append(f"column {name}.{column.name} is {have}, expected {want}")
            if not column.primary_key and bool(live["nullable"]) != bool(column.nullable):
                state = "allows NULL" if live["nullable"] else "is NOT NULL"
                differences.append(f"column {name}.{column.name} {state}, expected the opposite")
        expected_pk = {c.name for c in table.primary_key.columns}
        if primary != expected_pk:
            differences.append(f"table {name} has primary key ({', '.join(sorted(primary)) or 'none'}), "
                               f"expected ({', '.join(sorted(expected_pk))})")
        for extra in sorted(set(live_columns) - {c.name for c in table.columns}):
            notes.append(f"column {name}.{extra} is extra (not in our models)")
        live_indexes = {ix["name"]: ix for ix in inspector.get_indexes(name)}
        wanted = [ix for ix in table.indexes if _applies(ix, dialect.name)]
        for index in wanted:
            live = live_indexes.get(index.name)
            columns = [c.name for c in index.columns]
            if live is None:
                differences.append(f"index {name}.{index.name} ({', '.join(columns)}) is missing")
                continue
            if list(live["column_names"]) != columns:
                differences.append(f"index {name}.{index.name} covers ({', '.join(map(str, live['column_names']))}), "
                                   f"expected ({', '.join(columns)})")
            if bool(live.get("unique")) != bool(index.unique):
                differences.append(f"index {name}.{index.name} is {'' if live.get('unique') else 'not '}unique, "
                                   f"expected {'' if index.unique else 'not '}unique")
        for extra in sorted(set(live_indexes) - {ix.name for ix in wanted}):
            notes.append(f"index {name}.{extra} is extra (not in our models)")
    return differences, notes


@radius_cli.command("check-schema")
def check_schema_command() -> None:
    """Compare the live radius database with isp/radius/models.py; exit 1 when they differ."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    engine = binds.radius_engine(app)
    try:
        differences, notes = schema_differences(engine, db.metadatas["radius"])
    finally:
        engine.dispose()
    where = _redact(binds.plan(app).url)
    for line in differences:
        click.echo(f"difference: {line}")
    for line in notes:
        click.echo(f"note: {line}")
    if differences:
        click.echo(f"{len(differences)} difference(s) between {where} and the FreeRADIUS schema we expect.")
        raise SystemExit(1)
    click.echo(f"The radius database {where} matches the FreeRADIUS schema we expect ({binds.mode(app)} mode).")


@radius_cli.command("recover")
def recover_command() -> None:
    """Settle in-doubt XA transactions on the radius server by our record (two-phase mode; workers do it at start)."""
    from isp.radius import xa

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if binds.mode(app) != binds.TWO_PHASE:
        click.echo(f"Nothing to recover: the radius tables share our transaction ({binds.mode(app)} mode).")
        return
    done = xa.recover(app)
    if done["committed"] or done["rolled_back"]:
        from isp.services import audit

        audit.record(None, "radius.recover", "radius database", "in-doubt XA transactions settled by hand",
                     changes={"committed": [None, done["committed"]], "rolled back": [None, done["rolled_back"]]})
        db.session.commit()
    click.echo(f"In-doubt radius transactions: {done['committed']} committed, {done['rolled_back']} rolled back.")
