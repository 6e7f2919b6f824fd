"""Strict env parsing: malformed values stop start-up naming the variable."""
from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from isp.config import ConfigError, load_config

PROD = {
    "ISP_ENV": "production",
    "SECRET_KEY": "s" * 40,
    "ISP_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "DATABASE_URL": "mysql://isp:pw@db.internal/isp",
    "REDIS_URL": "redis://cache.internal:6379/0",
}


def test_defaults_are_embedded_sqlite_and_embedded_redis(tmp_path):
    config = load_config({}, str(tmp_path))
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/isp.db"
    assert config["SQLALCHEMY_BINDS"]["radius"] == config["SQLALCHEMY_DATABASE_URI"]
    assert config["REDIS_URL"] == "" and config["ISP_ENV"] == "development"
    Fernet(config["ISP_ENCRYPTION_KEY"].encode())  # a usable derived key


def test_mysql_url_is_rewritten_to_pymysql_utf8mb4_with_radius_alongside():
    config = load_config(PROD)
    assert config["SQLALCHEMY_DATABASE_URI"] == "mysql+pymysql://isp:pw@db.internal/isp?charset=utf8mb4"
    assert config["SQLALCHEMY_BINDS"]["radius"] == "mysql+pymysql://isp:pw@db.internal/radius?charset=utf8mb4"


def test_explicit_radius_url_wins():
    config = load_config({**PROD, "RADIUS_DATABASE_URL": "mysql://r:x@other/fr"})
    assert config["SQLALCHEMY_BINDS"]["radius"] == "mysql+pymysql://r:x@other/fr?charset=utf8mb4"


@pytest.mark.parametrize(
    "env,names",
    [
        ({"SESSION_COOKIE_SECURE": "maybe"}, "SESSION_COOKIE_SECURE"),
        ({"LOGIN_RATE_LIMIT": "five"}, "LOGIN_RATE_LIMIT"),
        ({"LOGIN_RATE_LIMIT": "0"}, "LOGIN_RATE_LIMIT"),
        ({"PAGE_SIZE": "100000"}, "PAGE_SIZE"),
        ({"DATABASE_URL": "postgres://u@h/db"}, "DATABASE_URL"),
        ({"DATABASE_URL": "mysql://u@host"}, "DATABASE_URL"),
        ({"RADIUS_DATABASE_URL": "oracle://x"}, "RADIUS_DATABASE_URL"),
        ({"REDIS_URL": "http://localhost:6379"}, "REDIS_URL"),
        ({"ISP_ENCRYPTION_KEY": "not-a-key"}, "ISP_ENCRYPTION_KEY"),
        ({"ISP_TIMEZONE": "Mars/Olympus"}, "ISP_TIMEZONE"),
        ({"RADIUS_TIMEZONE": "Mars/Olympus"}, "RADIUS_TIMEZONE"),
        ({"ISP_ENV": "staging"}, "ISP_ENV"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
    ],
)
def test_malformed_values_raise_naming_the_variable(env, names):
    with pytest.raises(ConfigError) as err:
        load_config(env)
    assert names in str(err.value)


def test_production_requires_secret_key_and_encryption_key():
    with pytest.raises(ConfigError, match="SECRET_KEY is required"):
        load_config({k: v for k, v in PROD.items() if k != "SECRET_KEY"})
    with pytest.raises(ConfigError, match="ISP_ENCRYPTION_KEY is required"):
        load_config({k: v for k, v in PROD.items() if k != "ISP_ENCRYPTION_KEY"})
    with pytest.raises(ConfigError, match="at least 32"):
        load_config({**PROD, "SECRET_KEY": "short"})


def test_password_in_bad_url_is_not_echoed():
    with pytest.raises(ConfigError) as err:
        load_config({"DATABASE_URL": "postgres://user:hunter2@h/db"})
    assert "hunter2" not in str(err.value)


def test_booleans_accept_the_usual_spellings():
    for raw, expected in (("yes", True), ("0", False), ("ON", True), ("false", False)):
        assert load_config({"SESSION_COOKIE_SECURE": raw})["SESSION_COOKIE_SECURE"] is expected


def test_create_app_refuses_bad_env(monkeypatch):
    from isp import create_app

    monkeypatch.setenv("REDIS_URL", "localhost:6379")
    with pytest.raises(ConfigError, match="REDIS_URL"):
        create_app()


def test_flask_cli_reports_bad_env_clearly(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "ISP_ENV": "production", "SECRET_KEY": "", "FLASK_APP": "wsgi", "ISP_INSTANCE_PATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "flask", "routes"], env=env, capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert result.returncode != 0
    assert "SECRET_KEY is required when ISP_ENV=production" in result.stderr
