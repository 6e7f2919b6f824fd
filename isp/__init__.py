"""The isp application factory: config, extensions, blueprints, CLI, errors. No I/O here."""
from __future__ import annotations

import logging
import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from isp import dispatch
from isp.config import load_config, parse_int
from isp.extensions import csrf, db, init_limiter, login_manager, migrate, redis_store

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app from the environment, with optional overrides for tests."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("ISP_INSTANCE_PATH") or os.path.join(ROOT, "instance"),
        template_folder=os.path.join(ROOT, "templates"),
        static_folder=os.path.join(ROOT, "static"),
    )
    app.config.update(load_config(os.environ, app.instance_path))
    if test_config:
        if "SQLALCHEMY_DATABASE_URI" in test_config and "SQLALCHEMY_BINDS" not in test_config \
                and not os.environ.get("RADIUS_DATABASE_URL"):
            # A new main database (tests, benchmarks) takes the radius tables along, as the environment's would.
            from isp.config import default_radius_url

            radius = default_radius_url(test_config["SQLALCHEMY_DATABASE_URI"])
            test_config = {**test_config, "SQLALCHEMY_BINDS": {"radius": radius}}
        app.config.update(test_config)
    logging.basicConfig(level=app.config["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    proxies = parse_int("PROXY_COUNT", os.environ.get("PROXY_COUNT"), 0, maximum=5)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]

    from isp import models  # noqa: F401  (register mappers before migrations look)

    db.init_app(app)
    from isp.radius import binds

    binds.init_app(app, db)  # the radius bind: our own engine (same file/server) or its own with XA
    migrate.init_app(app, db, directory=os.path.join(ROOT, "migrations"), render_as_batch=True)
    csrf.init_app(app)
    redis_store.init_app(app)
    dispatch.init_app(app)
    init_limiter(app)  # before the blueprints: views decorate with limiter.limit
    _init_login(app)

    from isp.web import init_web

    init_web(app)

    from isp.cli import init_cli

    init_cli(app)
    return app


def _init_login(app: Flask) -> None:
    """Configure Flask-Login's loader (id plus session version)."""
    from isp.models import User
    from isp.web.auth.sessions import init_sessions

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"
    init_sessions(app)  # every logged-in request checks its server-side session row (ended, idle, expired)

    @login_manager.user_loader
    def load_user(ident: str):
        user_id, _, version = ident.partition(".")
        if not user_id.isdigit() or not version.isdigit():
            return None
        user = db.session.get(User, int(user_id))
        if user is None or not user.active or user.session_version != int(version):
            return None
        return user
