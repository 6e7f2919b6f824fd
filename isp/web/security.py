"""Roles as decorators, deny-by-default routing, and HTMX-aware auth answers."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, flash, jsonify, redirect, request, url_for
from flask_login import current_user

from isp.extensions import login_manager

ALL_ROLES = ("admin", "operator", "reseller")
STAFF = ("admin", "operator")
# Endpoints Flask itself adds, which serve no data.
EXEMPT_ENDPOINTS = {"static"}


def is_htmx() -> bool:
    """True for a request made by htmx."""
    return request.headers.get("HX-Request") == "true"


def wants_json() -> bool:
    """True for API calls and clients that prefer JSON."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def public(view: Callable) -> Callable:
    """Mark a view as reachable without login."""
    view._public = True  # type: ignore[attr-defined]
    return view


def role_required(*roles: str) -> Callable:
    """Allow only logged-in users with one of the roles."""
    unknown = set(roles) - set(ALL_ROLES)
    if unknown or not roles:
        raise ValueError(f"unknown roles {unknown or roles}")

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: object, **kwargs: object) -> Response:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.has_role(*roles):
                return forbidden()
            return view(*args, **kwargs)

        wrapped._roles = tuple(roles)  # type: ignore[attr-defined]
        return wrapped

    return decorator


def forbidden():
    """403 for HTMX and JSON; a redirect with a message for a page."""
    message = "Your role does not allow that."
    if is_htmx() or wants_json():
        if wants_json():
            return jsonify(error="forbidden", message=message), 403
        from isp.web.errors import error_response

        return error_response(403)
    flash(message, "error")
    return redirect(url_for("dashboard.index"))


def declared_access(view: Callable) -> tuple[str, ...] | None:
    """The roles a view declares, ('public',) if public, None if undeclared."""
    if getattr(view, "_public", False):
        return ("public",)
    return getattr(view, "_roles", None)


def safe_next(target: str | None) -> str | None:
    """Return target only if it is a local path (no scheme, host or backslash tricks)."""
    if not target:
        return None
    target = target.strip()
    if "\\" in target or any(ord(c) < 32 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _unauthorized():
    """Login required: HX-Redirect for htmx, 401 for JSON, redirect otherwise."""
    login_url = url_for("auth.login", next=request.full_path.rstrip("?") if request.method == "GET" else None)
    if is_htmx():
        response = current_app.response_class(status=204)
        response.headers["HX-Redirect"] = login_url
        return response
    if wants_json():
        return jsonify(error="unauthenticated", message="Log in first."), 401
    if request.endpoint != "dashboard.index":
        flash("Please log in to continue.", "info")
    return redirect(login_url)


def init_security(app: Flask) -> None:
    """Install the unauthorized handler, refuse routes that declare no role, and add the security headers."""
    login_manager.unauthorized_handler(_unauthorized)

    @app.before_request
    def deny_undeclared():
        endpoint = request.endpoint
        if endpoint is None or endpoint in EXEMPT_ENDPOINTS:
            return None
        view = app.view_functions.get(endpoint)
        if view is not None and declared_access(view) is None:
            # A route without a declared role is a bug; refuse rather than leak.
            app.logger.error("route %s declares no role; refusing", endpoint)
            from isp.web.errors import error_response

            return error_response(403)
        return None

    app.after_request(security_headers)


def security_headers(response: Response) -> Response:
    """Headers every answer carries: no MIME sniffing, no framing, same-origin referrers."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
