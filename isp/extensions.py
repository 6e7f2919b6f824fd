"""Extension singletons, created unbound; create_app() binds them."""
from __future__ import annotations

from typing import Any

from flask import Flask, current_app, has_app_context, has_request_context, request
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.pagination import Pagination
from flask_sqlalchemy.session import Session as _FlaskSession
from flask_wtf import CSRFProtect
from redis import ConnectionPool, Redis, UnixDomainSocketConnection
from sqlalchemy import Engine, MetaData, Select, event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry

# Stable constraint names keep Alembic diffs identical on SQLite and MariaDB.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


MAX_PAGE = 100_000  # deeper than any list goes; keeps OFFSET far from integer overflow


def requested_page() -> int:
    """The ?page= of the current request as 1..MAX_PAGE (ASCII digits only; anything else is page 1)."""
    raw = request.args.get("page", "") if has_request_context() else ""
    if not (raw.isascii() and raw.isdigit()):
        return 1
    return MAX_PAGE if len(raw) > 9 else min(max(int(raw), 1), MAX_PAGE)


class _SQLAlchemy(SQLAlchemy):
    """Flask-SQLAlchemy whose paginate() takes the page through requested_page(): a huge ?page= is never a 500."""

    def paginate(self, select: Select[Any], *, page: int | None = None, **kwargs: Any) -> Pagination:
        return super().paginate(select, page=requested_page() if page is None else page, **kwargs)


class Session(_FlaskSession):
    """db.session: Flask-SQLAlchemy's, with an optional per-app coordinator for a second database.

    When the app installs one (`app.extensions["isp_session_coordinator"]`, the radius XA coordinator of
    isp/radius/xa.py in the two-phase mode), it may hand out its own connection for a bind and takes over
    commit, rollback and close; without one (every other mode) this is Flask-SQLAlchemy's session unchanged.
    """

    def _coordinator(self) -> Any:
        return current_app.extensions.get("isp_session_coordinator") if has_app_context() else None

    def get_bind(self, mapper: Any = None, clause: Any = None, bind: Any = None, **kwargs: Any) -> Any:
        """The engine for the mapper's bind key (or the coordinator's connection for it)."""
        found = super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)
        coordinator = self._coordinator()
        return coordinator.bind(self, found, clause) if coordinator is not None else found

    def commit(self) -> None:
        """Commit (through the coordinator when one is installed)."""
        coordinator = self._coordinator()
        if coordinator is None:
            super().commit()
        else:
            coordinator.commit(self, super().commit)

    def rollback(self) -> None:
        """Roll back (through the coordinator when one is installed)."""
        coordinator = self._coordinator()
        if coordinator is None:
            super().rollback()
        else:
            coordinator.rollback(self, super().rollback)

    def close(self) -> None:
        """Close (through the coordinator when one is installed)."""
        coordinator = self._coordinator()
        if coordinator is None:
            super().close()
        else:
            coordinator.close(self, super().close)


db = _SQLAlchemy(model_class=Base, session_options={"class_": Session})


@event.listens_for(Engine, "connect")
def _connection_setup(dbapi_connection: DBAPIConnection, connection_record: ConnectionPoolEntry) -> None:
    """Per-connection settings for each profile.

    SQLite (embedded): WAL so web, worker and clock share the file; wait on locks; enforce FKs.
    MariaDB: READ COMMITTED, so a read that finds nothing takes no gap lock; under the default
    REPEATABLE READ two transactions inserting near the same unique key (two logins, two batches
    collapsing into the outbox) deadlock on each other's gap locks (error 1213).
    """
    module = type(dbapi_connection).__module__
    cursor = dbapi_connection.cursor()
    if module.startswith("sqlite3"):
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA foreign_keys=ON")
    elif module.startswith("pymysql"):
        cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
    cursor.close()


migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()


class RedisHandle:
    """Lazily connected Redis client; no socket is opened until first use."""

    def __init__(self) -> None:
        self._clients: dict[str, Redis] = {}

    def init_app(self, app: Flask) -> None:
        """Remember the app; the connection is made on first use."""
        app.extensions["isp_redis"] = self

    def url(self, app: Flask | None = None) -> str:
        """The configured Redis URL, starting the embedded server if none is set."""
        app = app or current_app
        url = app.config.get("REDIS_URL") or ""
        if not url:
            from isp.embedded_redis import ensure_embedded_redis

            url = ensure_embedded_redis(app.instance_path)
        return url

    @property
    def client(self) -> Redis:
        """The Redis client for the current app."""
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        override = app.config.get("REDIS_CLIENT")
        if override is not None:  # tests inject fakeredis here
            return override
        key = app.config.get("REDIS_URL") or app.instance_path
        if key not in self._clients:
            timeout = app.config.get("REDIS_SOCKET_TIMEOUT", 2.0)
            self._clients[key] = Redis.from_url(
                self.url(app), socket_timeout=timeout, socket_connect_timeout=timeout, health_check_interval=30
            )
        return self._clients[key]


redis_store = RedisHandle()


def _limiter_key() -> str:
    """Remote address (ProxyFix has already applied PROXY_COUNT)."""
    return request.remote_addr or "unknown"


# Flask-Limiter on the app's Redis; init_limiter(app) binds it. Views decorate with limiter.limit (see init_limiter);
# the login throttle uses its storage directly (isp.web.auth.throttle).
from flask_limiter import Limiter  # noqa: E402

limiter = Limiter(key_func=_limiter_key, default_limits=[])


class _EmbeddedPool(ConnectionPool):
    """A pool on the embedded server's socket that starts the server on its first connection (never at import)."""

    def __init__(self, instance_path: str, timeout: float) -> None:
        from isp.embedded_redis import socket_path

        self._instance_path = instance_path
        super().__init__(connection_class=UnixDomainSocketConnection, path=socket_path(instance_path),
                         socket_timeout=timeout, socket_connect_timeout=timeout)

    def make_connection(self):  # type: ignore[no-untyped-def]
        from isp.embedded_redis import ensure_embedded_redis

        ensure_embedded_redis(self._instance_path)
        return super().make_connection()


def _limiter_pool(app: Flask) -> ConnectionPool:
    """The connection pool of the app's Redis, made without connecting.

    An injected client (tests: fakeredis, or the real Redis of TEST_REDIS_URL) lends its own pool, so the limits
    are real in tests and flushed with the rest of Redis between them.
    """
    override = app.config.get("REDIS_CLIENT")
    if override is not None:
        return override.connection_pool
    timeout = app.config.get("REDIS_SOCKET_TIMEOUT", 2.0)
    url = app.config.get("REDIS_URL") or ""
    if url:
        return ConnectionPool.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    return _EmbeddedPool(app.instance_path, timeout)


def init_limiter(app: Flask) -> None:
    """Bind Flask-Limiter to the app's Redis (no I/O here); storage errors are logged and let the request through.

    Usage in a view module (the limit string is read per request, so config overrides in tests apply):

        @limiter.limit(lambda: current_app.config["EXPORT_RATE_LIMIT"], key_func=lambda: f"user:{current_user.id}")

    A breach raises a 429: a page naming the wait (isp.web.errors.too_many), a problem document under /api/.
    """
    app.config["RATELIMIT_STORAGE_URI"] = "redis://"
    app.config["RATELIMIT_STORAGE_OPTIONS"] = {
        "connection_pool": _limiter_pool(app), "wrap_exceptions": True, "key_prefix": "isp:limits"}
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)  # Redis down: fail open, with the error logged
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)  # X-RateLimit-* and Retry-After on limited routes
    limiter.init_app(app)
