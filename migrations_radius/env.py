"""Alembic environment of the radius bind: its own chain and version table, on the radius database itself.

Run by `flask db upgrade` right after our own chain (see migrations/env.py and `isp.radius.binds.upgrade`).
The version table is `alembic_version_radius`, so it never meets ours in the same SQLite file, and an operator's
existing FreeRADIUS database gains only that table.
"""
from alembic import context
from flask import current_app

from isp.extensions import db
from isp.radius import binds

VERSION_TABLE = "alembic_version_radius"

engine = binds.radius_engine(current_app)
try:
    if context.is_offline_mode():
        context.configure(url=engine.url, literal_binds=True, version_table=VERSION_TABLE,
                          dialect_name=engine.dialect.name)
        with context.begin_transaction():
            context.run_migrations()
    else:
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=db.metadatas["radius"], version_table=VERSION_TABLE)
            with context.begin_transaction():
                context.run_migrations()
finally:
    engine.dispose()
