"""The main navigation, per role; domains not built yet show as 'soon'."""
from __future__ import annotations

from flask import Flask, request, url_for
from flask_login import current_user
from werkzeug.routing import BuildError

from isp.web.security import ALL_ROLES, STAFF

# (label, endpoint, roles, icon): the icon is a symbol id in static/icons/lucide.svg
NAV = (
    ("Dashboard", "dashboard.index", ALL_ROLES, "layout-grid"),
    ("Routers", "routers.index", STAFF, "server"),
    ("Vouchers", "vouchers.index", ALL_ROLES, "ticket"),
    ("Voucher plans", "plans.index", STAFF, "layers"),
    ("Customers", "customers.index", ALL_ROLES, "user"),
    ("Services", "customers.services", STAFF, "users"),
    ("Online now", "sessions.index", ALL_ROLES, "plug-zap"),
    ("Service plans", "customers.plans", STAFF, "layers"),
    ("Billing", "billing.index", ALL_ROLES, "wallet"),
    ("Import / export", "imports.index", STAFF, "download"),
    ("Resellers", "resellers.index", ("admin",), "briefcase"),
    ("My account", "resellers.mine", ("reseller",), "wallet"),
    ("Reports", "reports.index", STAFF, "chart-column"),
    ("Alerts", "alerts.index", STAFF, "bell"),
    ("Monitoring", "monitoring.index", STAFF, "activity"),
    ("Audit log", "audit.index", ("admin",), "list"),
    ("Users", "users.index", ("admin",), "user-cog"),
    ("Settings", "settings.index", ("admin",), "settings"),
    ("Security", "account.index", ALL_ROLES, "key-round"),
)


# Blueprints that serve several navigation entries: the entry is chosen by endpoint, not by blueprint.
SHARED = {"customers.services": ("customers.services", "customers.service_"),
          "customers.plans": ("customers.plan",)}


def _active(endpoint: str, blueprint: str) -> bool:
    """True if the page being served belongs to this navigation entry."""
    here = request.endpoint or ""
    if endpoint in SHARED:
        return here.startswith(SHARED[endpoint])
    if endpoint == "customers.index":
        return blueprint == "customers" and not any(here.startswith(p) for ps in SHARED.values() for p in ps)
    return endpoint.split(".")[0] == blueprint


def nav_items() -> list[dict]:
    """Navigation entries the current user may see."""
    if not current_user.is_authenticated:
        return []
    items = []
    current = (request.endpoint or "").split(".")[0]
    for label, endpoint, roles, icon in NAV:
        if not current_user.has_role(*roles):
            continue
        try:
            url = url_for(endpoint)
        except BuildError:
            url = None
        items.append({"label": label, "url": url, "icon": icon, "active": _active(endpoint, current)})
    return items


def init_nav(app: Flask) -> None:
    """Expose nav_items to templates."""
    app.context_processor(lambda: {"nav_items": nav_items})
