"""`flask db upgrade` builds both chains, and `flask db check` on our bind ignores the radius bind's tables."""
from __future__ import annotations

from sqlalchemy import inspect

from isp.extensions import db
from isp.radius import binds


def test_upgrade_created_the_stock_tables_and_the_radius_version_table(app):
    with app.app_context():
        engine = binds.radius_engine(app)
        tables = set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            version = conn.exec_driver_sql("SELECT version_num FROM alembic_version_radius").scalar()
        engine.dispose()
    assert {t.name for t in db.metadatas["radius"].sorted_tables} <= tables
    assert version == "r0001_freeradius_schema"


def test_db_check_finds_no_drift_on_our_bind(app):
    """Same-file SQLite holds radcheck & co. next to our tables; the check must not ask to drop them."""
    result = app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output
