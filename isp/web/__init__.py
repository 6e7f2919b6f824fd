"""Blueprint registration: every domain's blueprint, error handlers, security hooks, navigation and filters."""
from __future__ import annotations

from flask import Flask


def init_web(app: Flask) -> None:
    """Register every blueprint, error handlers, security hooks and filters."""
    from isp.api import init_api
    from isp.web.account import bp as account_bp
    from isp.web.alerts import bp as alerts_bp
    from isp.web.audit import bp as audit_bp
    from isp.web.auth import bp as auth_bp
    from isp.web.billing import bp as billing_bp
    from isp.web.customers import bp as customers_bp
    from isp.web.dashboard import bp as dashboard_bp
    from isp.web.errors import init_errors
    from isp.web.filters import init_filters
    from isp.web.health import bp as health_bp
    from isp.web.imports import bp as imports_bp
    from isp.web.metrics import bp as metrics_bp
    from isp.web.monitoring import bp as monitoring_bp
    from isp.web.nav import init_nav
    from isp.web.notifications import bp as notifications_bp
    from isp.web.numbers import init_numbers
    from isp.web.plans import bp as plans_bp
    from isp.web.reports import bp as reports_bp
    from isp.web.resellers import bp as resellers_bp
    from isp.web.routers import bp as routers_bp
    from isp.web.security import init_security
    from isp.web.sessions import bp as sessions_bp
    from isp.web.settings import bp as settings_bp
    from isp.web.tokens import bp as tokens_bp
    from isp.web.users import bp as users_bp
    from isp.web.vouchers import bp as vouchers_bp

    init_numbers(app)  # before the blueprints: their <int:...> rules bind the converter when registered
    for bp in (auth_bp, dashboard_bp, health_bp, metrics_bp, monitoring_bp, routers_bp, users_bp, plans_bp,
               vouchers_bp, resellers_bp, settings_bp, reports_bp, customers_bp, billing_bp, notifications_bp, imports_bp,
               sessions_bp, alerts_bp, account_bp, audit_bp, tokens_bp):
        app.register_blueprint(bp)
    init_api(app)
    init_security(app)
    init_errors(app)
    init_nav(app)
    init_filters(app)
