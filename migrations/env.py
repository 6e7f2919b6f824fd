import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Interpret the config file for Python logging.
# This line sets up loggers basically.
fileConfig(config.config_file_name)
logger = logging.getLogger('alembic.env')


RADIUS_TABLES = {"radcheck", "radreply", "radgroupcheck", "radgroupreply", "radusergroup", "radacct", "radpostauth",
                 "nas", "nasreload"}
NOT_OURS = RADIUS_TABLES | {"alembic_version_radius", "isp_xa_log"}


def get_engine():
    return current_app.extensions['migrate'].db.engine


def get_engine_url():
    try:
        return get_engine().url.render_as_string(hide_password=False).replace(
            '%', '%%')
    except AttributeError:
        return str(get_engine().url).replace('%', '%%')


# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
config.set_main_option('sqlalchemy.url', get_engine_url())
target_db = current_app.extensions['migrate'].db

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def get_metadata():
    if hasattr(target_db, 'metadatas'):
        return target_db.metadatas[None]
    return target_db.metadata


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url, target_metadata=get_metadata(), literal_binds=True
    )

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, 'autogenerate', False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info('No changes in schema detected.')

    # SQLite-only expression indexes (`column COLLATE NOCASE`, migration 0007): alembic cannot compare an
    # expression index on SQLite and would drop and re-add them on every autogenerate, so leave them out.
    # The radius bind's tables (and its version table, and the XA decision log) share the SQLite file in the
    # same-file mode: they belong to migrations_radius/, so the main bind's comparison leaves them out.
    # An index the models declare for one dialect only (`ddl_if(dialect=...)`, e.g. MariaDB's (username, customer_id)
    # of migration 0015) is not expected on the others.
    def include_object(object, name, type_, reflected, compare_to):
        if type_ == "table" and reflected and compare_to is None and name in NOT_OURS:
            return False
        if type_ == "index" and not reflected:
            only = getattr(getattr(object, "_ddl_if", None), "dialect", None)
            if only is not None and only != context.get_context().dialect.name:
                return False
        return not (type_ == "index" and name and name.endswith("_nocase"))

    conf_args = current_app.extensions['migrate'].configure_args
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives
    conf_args.setdefault("include_object", include_object)

    connectable = get_engine()
    if connectable.url.get_backend_name() == "sqlite":
        # The embedded profile keeps its database under instance/; create the folder on first upgrade.
        import os

        os.makedirs(current_app.instance_path, exist_ok=True)

    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=get_metadata(),
            **conf_args
        )

        with context.begin_transaction():
            context.run_migrations()


def _is_online_upgrade():
    """True when this run is `flask db upgrade` (or flask_migrate.upgrade()), not check/revision/downgrade/stamp."""
    migration_context = context.get_context()
    fn = migration_context.opts.get("fn")
    return not context.is_offline_mode() and getattr(fn, "__name__", "") == "upgrade"


def upgrade_radius_bind():
    """After our chain, run the radius bind's own chain (migrations_radius/, isp.radius.binds.upgrade).

    The nested alembic run installs and then removes alembic's `context` proxy; re-install ours afterwards so
    alembic can close this run normally.
    """
    from isp.radius import binds

    outer = context._proxy
    try:
        binds.upgrade(current_app._get_current_object())
    finally:
        outer._install_proxy()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
    if _is_online_upgrade():
        upgrade_radius_bind()
