"""Blueprint registration and template helpers."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from flask import Flask, has_request_context


def _currency() -> str:
    """The operator's currency, read once per request."""
    from flask import g

    from isp.extensions import db
    from isp.models import Branding

    if "isp_currency" not in g:
        row = db.session.get(Branding, 1)
        g.isp_currency = row.currency if row else ""
    return g.isp_currency


def init_web(app: Flask) -> None:
    """Register every blueprint, error handlers, security hooks and filters."""
    from isp.web.auth import bp as auth_bp
    from isp.web.dashboard import bp as dashboard_bp
    from isp.web.errors import init_errors
    from isp.web.health import bp as health_bp
    from isp.web.metrics import bp as metrics_bp
    from isp.web.monitoring import bp as monitoring_bp
    from isp.web.nav import init_nav
    from isp.web.routers import bp as routers_bp
    from isp.web.security import init_security
    from isp.web.plans import bp as plans_bp
    from isp.web.reports import bp as reports_bp
    from isp.web.resellers import bp as resellers_bp
    from isp.web.settings import bp as settings_bp
    from isp.web.users import bp as users_bp
    from isp.web.vouchers import bp as vouchers_bp

    for bp in (auth_bp, dashboard_bp, health_bp, metrics_bp, monitoring_bp, routers_bp, users_bp, plans_bp,
               vouchers_bp, resellers_bp, settings_bp, reports_bp):
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

    @app.template_filter("money")
    def money(value) -> str:  # noqa: ANN001
        """A Decimal amount with two decimals and the operator's currency (read per request)."""
        if value is None:
            return "—"
        currency = _currency() if has_request_context() else ""
        text = f"{value:,.2f}"
        return f"{currency} {text}".strip()

    @app.template_filter("duration")
    def duration(value) -> str:  # noqa: ANN001
        """Seconds in RouterOS notation: 1d, 12h, 1h30m."""
        from isp.units import format_duration

        return format_duration(value)

    @app.template_filter("filesize")
    def filesize(value) -> str:  # noqa: ANN001
        """Bytes as 1.5 GiB."""
        from isp.units import format_bytes

        return format_bytes(value)

    @app.template_filter("epoch")
    def epoch(value: float | None) -> datetime | None:
        """A Unix timestamp (as workers store them in Redis) as an aware UTC datetime."""
        return None if value is None else datetime.fromtimestamp(float(value), timezone.utc)

    @app.template_filter("ago")
    def ago(value: datetime | None) -> str:
        """How long ago, coarsely: '42 s', '5 min', '3 h', '2 d'."""
        if value is None:
            return "—"
        if value.tzinfo is None:  # RQ hands back naive UTC
            value = value.replace(tzinfo=timezone.utc)
        seconds = max(0, int((datetime.now(timezone.utc) - value).total_seconds()))
        for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
            if seconds >= size:
                return f"{seconds // size} {unit}"
        return f"{seconds} s"

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
