"""Blueprint registration and template helpers."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask


def init_web(app: Flask) -> None:
    """Register every blueprint, error handlers, security hooks and filters."""
    from isp.web.auth import bp as auth_bp
    from isp.web.dashboard import bp as dashboard_bp
    from isp.web.errors import init_errors
    from isp.web.health import bp as health_bp
    from isp.web.nav import init_nav
    from isp.web.security import init_security
    from isp.web.users import bp as users_bp

    for bp in (auth_bp, dashboard_bp, health_bp, users_bp):
        app.register_blueprint(bp)
    init_security(app)
    init_errors(app)
    init_nav(app)
    tz = ZoneInfo(app.config["ISP_TIMEZONE"])

    @app.template_filter("localtime")
    def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        """Show a UTC datetime in the operator's timezone."""
        if value is None:
            return "—"
        return value.astimezone(tz).strftime(fmt)

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
