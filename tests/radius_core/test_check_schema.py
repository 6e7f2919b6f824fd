"""`flask radius check-schema` against a database made from FreeRADIUS's own schema.sql, then broken on purpose."""
from __future__ import annotations

from pathlib import Path

import pytest

from isp.extensions import db
from isp.radius import binds

STOCK = Path("/etc/freeradius/3.0/mods-config/sql/main")


def _stock_statements(dialect: str) -> list[str]:
    """The statements of the installed FreeRADIUS package's schema.sql for the dialect."""
    path = STOCK / ("sqlite" if dialect == "sqlite" else "mysql") / "schema.sql"
    if not path.exists():
        pytest.skip(f"FreeRADIUS's stock schema {path} is not installed (apt install freeradius)")
    comment = "--" if dialect == "sqlite" else "#"
    body = "\n".join(line for line in path.read_text().splitlines() if not line.strip().startswith(comment))
    return [statement.strip() for statement in body.split(";") if statement.strip()]


def _run(engine, statements: list[str]) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


@pytest.fixture
def stock_radius(app):
    """The radius tables dropped and re-created from the package's schema.sql; restored the same way afterwards."""
    with app.app_context():
        engine = binds.radius_engine(app)
        statements = _stock_statements(engine.dialect.name)
        names = [table.name for table in db.metadatas["radius"].sorted_tables]

        def rebuild():
            _run(engine, [f"DROP TABLE IF EXISTS {name}" for name in names])
            _run(engine, statements)

        rebuild()
        yield engine
        rebuild()
        engine.dispose()


def _check(app):
    result = app.test_cli_runner().invoke(args=["radius", "check-schema"])
    return result.exit_code, result.output


def test_stock_schema_matches_our_models(app, stock_radius):
    code, output = _check(app)
    assert code == 0, output
    assert "matches the FreeRADIUS schema we expect" in output
    assert "difference:" not in output


def test_a_dropped_column_and_index_are_reported(app, stock_radius):
    index = "check_username" if stock_radius.dialect.name == "sqlite" else "username"
    drop_index = f"DROP INDEX {index}" if stock_radius.dialect.name == "sqlite" else f"DROP INDEX {index} ON radcheck"
    _run(stock_radius, [drop_index, "ALTER TABLE radacct DROP COLUMN connectinfo_stop",
                        "CREATE INDEX radcheck_attr_extra ON radcheck (attribute)"])
    code, output = _check(app)
    assert code == 1, output
    assert "difference: column radacct.connectinfo_stop is missing" in output
    assert f"difference: index radcheck.{index} (username) is missing" in output
    assert "note: index radcheck.radcheck_attr_extra is extra" in output
    assert "2 difference(s)" in output


def test_a_changed_type_and_nullability_are_reported(app, stock_radius):
    if stock_radius.dialect.name == "sqlite":
        pytest.skip("SQLite cannot alter a column in place; the MariaDB profile covers type and nullability")
    _run(stock_radius, ["ALTER TABLE radreply MODIFY value varchar(64) NULL"])
    code, output = _check(app)
    assert code == 1, output
    assert "difference: column radreply.value is VARCHAR(64), expected VARCHAR(253)" in output
    assert "difference: column radreply.value allows NULL, expected the opposite" in output


def test_upgrade_is_idempotent_on_an_existing_freeradius_database(app, stock_radius):
    """An operator's existing FreeRADIUS database: our radius chain runs again without failing or duplicating."""
    with app.app_context():
        with stock_radius.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version_radius")  # as if we had never migrated it
            conn.exec_driver_sql("INSERT INTO nas (nasname, shortname, secret) VALUES ('10.100.0.2', 'r1', 's')")
        binds.upgrade(app)
        binds.upgrade(app)
        with stock_radius.connect() as conn:
            assert conn.exec_driver_sql("SELECT nasname FROM nas").scalars().all() == ["10.100.0.2"]
            assert conn.exec_driver_sql("SELECT version_num FROM alembic_version_radius").scalars().all() == [
                "r0001_freeradius_schema"]
    assert _check(app)[0] == 0
