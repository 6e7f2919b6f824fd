"""Environment-only configuration, parsed strictly.

Every setting comes from an environment variable. An unset variable takes its
embedded default; a malformed one raises ConfigError naming the variable, so a
typo stops start-up instead of silently falling back.
"""
from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.fernet import Fernet

ENVIRONMENTS = ("development", "production", "test")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
DEV_SECRET_KEY = "isp-development-key-not-for-production"


class ConfigError(RuntimeError):
    """A configuration variable is missing or malformed."""


def parse_bool(name: str, raw: str | None, default: bool) -> bool:
    """Parse a strict boolean: 1/0, true/false, yes/no, on/off."""
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use true/false, yes/no, on/off or 1/0)")


def parse_int(name: str, raw: str | None, default: int, minimum: int = 0, maximum: int | None = None) -> int:
    """Parse an integer within bounds."""
    if raw is None or raw == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise ConfigError(f"{name}={raw!r} must be {bound}")
    return value


def parse_float(name: str, raw: str | None, default: float, minimum: float = 0.0) -> float:
    """Parse a non-negative float."""
    if raw is None or raw == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} must be >= {minimum}")
    return value


def normalise_db_url(name: str, raw: str) -> str:
    """Validate a database URL; rewrite mysql:// to mysql+pymysql:// with utf8mb4."""
    url = raw.strip()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("mysql", "mariadb", "mysql+pymysql", "mariadb+pymysql"):
        if not parts.hostname or not parts.path.strip("/"):
            raise ConfigError(f"{name} must name a host and a database, e.g. mysql://user:pass@host/isp")
        query = parts.query
        if "charset=" not in query:
            query = f"{query}&charset=utf8mb4" if query else "charset=utf8mb4"
        return urlunsplit(("mysql+pymysql", parts.netloc, parts.path, query, parts.fragment))
    if scheme == "sqlite":
        return url
    raise ConfigError(f"{name}={_redact(url)!r} is not a supported database URL (use mysql:// or sqlite://)")


def _redact(url: str) -> str:
    """Hide the password of a URL for error messages."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def default_radius_url(main_url: str) -> str:
    """The radius schema on the same MySQL server, or the same SQLite file."""
    parts = urlsplit(main_url)
    if parts.scheme.startswith("mysql"):
        return urlunsplit(parts._replace(path="/radius"))
    return main_url


def parse_redis_url(name: str, raw: str) -> str:
    """Validate a Redis URL."""
    url = raw.strip()
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"{name}={_redact(url)!r} is not a Redis URL (redis://, rediss:// or unix://)")
    return url


def derive_fernet_key(secret: str) -> str:
    """Derive a Fernet key from the secret key (development only)."""
    return base64.urlsafe_b64encode(hashlib.sha256(("fernet:" + secret).encode()).digest()).decode()


def load_config(env: Mapping[str, str] | None = None, instance_path: str = "instance") -> dict:
    """Build the Flask config mapping from environment variables."""
    env = os.environ if env is None else env
    get = env.get
    isp_env = (get("ISP_ENV") or "development").strip().lower()
    if isp_env not in ENVIRONMENTS:
        raise ConfigError(f"ISP_ENV={get('ISP_ENV')!r} must be one of {', '.join(ENVIRONMENTS)}")
    production = isp_env == "production"

    secret_key = get("SECRET_KEY") or ""
    if not secret_key:
        if production:
            raise ConfigError("SECRET_KEY is required when ISP_ENV=production")
        secret_key = DEV_SECRET_KEY
    elif production and len(secret_key) < 32:
        raise ConfigError("SECRET_KEY must be at least 32 characters in production")

    enc_key = get("ISP_ENCRYPTION_KEY") or ""
    if enc_key:
        try:
            Fernet(enc_key.encode())
        except (ValueError, TypeError):
            raise ConfigError(
                "ISP_ENCRYPTION_KEY is not a valid Fernet key (generate one with "
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)"
            ) from None
    elif production:
        raise ConfigError("ISP_ENCRYPTION_KEY is required when ISP_ENV=production")
    else:
        enc_key = derive_fernet_key(secret_key)

    sqlite_default = "sqlite:///" + os.path.join(os.path.abspath(instance_path), "isp.db")
    db_url = normalise_db_url("DATABASE_URL", get("DATABASE_URL") or sqlite_default)
    radius_raw = get("RADIUS_DATABASE_URL")
    radius_url = normalise_db_url("RADIUS_DATABASE_URL", radius_raw) if radius_raw else default_radius_url(db_url)
    redis_raw = get("REDIS_URL")
    redis_url = parse_redis_url("REDIS_URL", redis_raw) if redis_raw else ""

    tz_name = (get("ISP_TIMEZONE") or "UTC").strip()
    try:
        ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"ISP_TIMEZONE={tz_name!r} is not a known IANA timezone (e.g. Africa/Nairobi)") from None

    radius_tz = (get("RADIUS_TIMEZONE") or "UTC").strip()
    try:
        ZoneInfo(radius_tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"RADIUS_TIMEZONE={radius_tz!r} is not a known IANA timezone (the zone FreeRADIUS runs in)") from None

    log_level = (get("LOG_LEVEL") or "INFO").strip().upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"LOG_LEVEL={get('LOG_LEVEL')!r} must be DEBUG, INFO, WARNING, ERROR or CRITICAL")

    engine_options: dict = {"pool_pre_ping": True}
    if db_url.startswith("mysql"):
        engine_options["pool_recycle"] = 280

    return {
        "ISP_ENV": isp_env,
        "SECRET_KEY": secret_key,
        "ISP_ENCRYPTION_KEY": enc_key,
        "SQLALCHEMY_DATABASE_URI": db_url,
        "SQLALCHEMY_BINDS": {"radius": radius_url},
        # Force XA two-phase commit to the radius database even when it shares our server (isp/radius/binds.py).
        "RADIUS_TWO_PHASE": parse_bool("RADIUS_TWO_PHASE", get("RADIUS_TWO_PHASE"), False),
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        "REDIS_URL": redis_url,
        "ISP_TIMEZONE": tz_name,
        # The zone FreeRADIUS runs in: it parses `Expiration` and stamps radacct/radpostauth in it (ours: UTC).
        "RADIUS_TIMEZONE": radius_tz,
        "LOG_LEVEL": log_level,
        "LOGIN_RATE_LIMIT": parse_int("LOGIN_RATE_LIMIT", get("LOGIN_RATE_LIMIT"), 5, minimum=1),
        "LOGIN_RATE_LIMIT_IP": parse_int("LOGIN_RATE_LIMIT_IP", get("LOGIN_RATE_LIMIT_IP"), 50, minimum=1),
        "LOGIN_RATE_WINDOW": parse_int("LOGIN_RATE_WINDOW", get("LOGIN_RATE_WINDOW"), 60, minimum=1),
        "SESSION_COOKIE_SECURE": parse_bool("SESSION_COOKIE_SECURE", get("SESSION_COOKIE_SECURE"), production),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Largest request body (logo, CSV import): refused with 413 before CSRF or a form reads it.
        "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
        "REMEMBER_COOKIE_SECURE": parse_bool("SESSION_COOKIE_SECURE", get("SESSION_COOKIE_SECURE"), production),
        "REMEMBER_COOKIE_HTTPONLY": True,
        # Sessions (isp.services.user_sessions): ended after this long without a request, whatever the lifetime.
        "SESSION_IDLE_MINUTES": parse_int("SESSION_IDLE_MINUTES", get("SESSION_IDLE_MINUTES"), 60, minimum=1),
        # Flask-Limiter limits (limits' notation, e.g. "300 per minute"): per API token, and per user on exports and print.
        "API_RATE_LIMIT": (get("API_RATE_LIMIT") or "300 per minute").strip(),
        "EXPORT_RATE_LIMIT": (get("EXPORT_RATE_LIMIT") or "20 per minute").strip(),
        # Where `flask backup create` writes (blank: instance/backups).
        "BACKUP_DIR": (get("BACKUP_DIR") or os.path.join(os.path.abspath(instance_path), "backups")).strip(),
        "PERMANENT_SESSION_LIFETIME": parse_int("SESSION_LIFETIME_MINUTES", get("SESSION_LIFETIME_MINUTES"), 720, minimum=5) * 60,
        "WTF_CSRF_TIME_LIMIT": None,
        "PAGE_SIZE": parse_int("PAGE_SIZE", get("PAGE_SIZE"), 50, minimum=5, maximum=500),
        **load_router_settings(env),
    }


def load_router_settings(env: Mapping[str, str]) -> dict:
    """Pool, breaker, retry and cache thresholds (README lists each with its default)."""
    get = env.get
    settings = {
        "ROUTER_TIMEOUT": parse_float("ROUTER_TIMEOUT", get("ROUTER_TIMEOUT"), 5.0, minimum=0.1),
        # Longest one command's reply may keep streaming before it is cut off as a timeout (a faulty router).
        "ROUTER_REPLY_DEADLINE": parse_float("ROUTER_REPLY_DEADLINE", get("ROUTER_REPLY_DEADLINE"), 300.0, minimum=1.0),
        "POOL_MIN": parse_int("POOL_MIN", get("POOL_MIN"), 0, maximum=20),
        "POOL_MAX": parse_int("POOL_MAX", get("POOL_MAX"), 2, minimum=1, maximum=20),
        "POOL_FLEET_CAP": parse_int("POOL_FLEET_CAP", get("POOL_FLEET_CAP"), 8, minimum=1, maximum=100),
        "POOL_HEALTH_AFTER": parse_float("POOL_HEALTH_AFTER", get("POOL_HEALTH_AFTER"), 30.0),
        "POOL_IDLE_TIMEOUT": parse_float("POOL_IDLE_TIMEOUT", get("POOL_IDLE_TIMEOUT"), 120.0, minimum=1.0),
        "POOL_ACQUIRE_TIMEOUT": parse_float("POOL_ACQUIRE_TIMEOUT", get("POOL_ACQUIRE_TIMEOUT"), 10.0),
        "BREAKER_THRESHOLD": parse_int("BREAKER_THRESHOLD", get("BREAKER_THRESHOLD"), 3, minimum=1),
        "BREAKER_COOLDOWN": parse_float("BREAKER_COOLDOWN", get("BREAKER_COOLDOWN"), 5.0, minimum=0.1),
        "RETRY_MAX": parse_int("RETRY_MAX", get("RETRY_MAX"), 8, minimum=1, maximum=50),
        "RETRY_BASE": parse_float("RETRY_BASE", get("RETRY_BASE"), 2.0, minimum=0.01),
        "RETRY_CAP": parse_float("RETRY_CAP", get("RETRY_CAP"), 300.0, minimum=0.1),
        "BULK_CHUNK": parse_int("BULK_CHUNK", get("BULK_CHUNK"), 200, minimum=1, maximum=5000),
        "BULK_PROGRESS_SECONDS": parse_float("BULK_PROGRESS_SECONDS", get("BULK_PROGRESS_SECONDS"), 0.5),
        "OUTBOX_SWEEP_GRACE": parse_float("OUTBOX_SWEEP_GRACE", get("OUTBOX_SWEEP_GRACE"), 30.0),
        "OUTBOX_STUCK_AFTER": parse_float("OUTBOX_STUCK_AFTER", get("OUTBOX_STUCK_AFTER"), 960.0, minimum=1.0),
        "RECONCILE_INTERVAL": parse_int("RECONCILE_INTERVAL", get("RECONCILE_INTERVAL"), 900, minimum=60, maximum=86400),
        "METRICS_TOKEN": (get("METRICS_TOKEN") or "").strip(),
        # Monitoring: poll interval, and how long raw samples, 1-minute and 1-hour rollups are kept.
        "MONITOR_INTERVAL": parse_int("MONITOR_INTERVAL", get("MONITOR_INTERVAL"), 10, minimum=2, maximum=300),
        "MONITOR_RAW_HOURS": parse_int("MONITOR_RAW_HOURS", get("MONITOR_RAW_HOURS"), 48, minimum=1, maximum=24 * 31),
        "MONITOR_MINUTE_DAYS": parse_int("MONITOR_MINUTE_DAYS", get("MONITOR_MINUTE_DAYS"), 14, minimum=1, maximum=366),
        "MONITOR_HOUR_DAYS": parse_int("MONITOR_HOUR_DAYS", get("MONITOR_HOUR_DAYS"), 365, minimum=1, maximum=3660),
        "ISP_DEMO_TRAFFIC": parse_bool("ISP_DEMO_TRAFFIC", get("ISP_DEMO_TRAFFIC"), False),
    }
    if settings["POOL_MIN"] > settings["POOL_MAX"]:
        raise ConfigError(f"POOL_MIN={settings['POOL_MIN']} must not exceed POOL_MAX={settings['POOL_MAX']}")
    return settings
