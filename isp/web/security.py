"""Roles as decorators, deny-by-default routing, and HTMX-aware auth answers."""
from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, flash, g, jsonify, redirect, request, url_for
from flask_login import current_user, logout_user, user_logged_in
from werkzeug.exceptions import Forbidden

from isp.extensions import login_manager

ALL_ROLES = ("admin", "operator", "reseller")
STAFF = ("admin", "operator")
# Endpoints Flask itself adds, which serve no data.
EXEMPT_ENDPOINTS = {"static"}
# Never behind the staff IP allow-list: static files, leaving, and the probes' and scrapers' blueprints.
ALLOW_LIST_EXEMPT = {"static", "auth.logout"}
ALLOW_LIST_EXEMPT_BLUEPRINTS = {"health", "metrics"}
# Files with their own caching (the logo carries an ETag) or none worth forbidding.
CACHEABLE_ENDPOINTS = {"static", "settings.logo"}
PERMISSIONS_POLICY = ("accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), magnetometer=(), "
                      "microphone=(), midi=(), payment=(), serial=(), usb=()")


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


def _per_user() -> str:
    """The rate-limit key of an expensive page: the logged-in user (their address when not logged in)."""
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return f"ip:{request.remote_addr or 'unknown'}"


def expensive(scope: str) -> Callable:
    """Limit a costly page to EXPORT_RATE_LIMIT per user, shared by every page of `scope` ("export" or "print").

    Put it under role_required, so a refused or logged-out request costs nothing. Inert until the limiter is
    initialised; a breach answers 429 with the wait (the app's 429 handler).
    """
    from isp.extensions import limiter

    return limiter.shared_limit(lambda: current_app.config["EXPORT_RATE_LIMIT"], scope=scope, key_func=_per_user)


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


class AddressNotAllowed(Forbidden):
    """A staff member's address is outside their role's allow-list."""

    def __init__(self, ip: str, role: str, at_login: bool = False) -> None:
        self.user_message = (f"Your address {ip or 'unknown'} is not allowed for {role} accounts. "
                             "Connect from an allowed network, or ask an administrator to add it in Settings → Security.")
        self.at_login = at_login
        super().__init__(self.user_message)


def refuse_address(err: AddressNotAllowed) -> Response:
    """The 403 page naming the address; htmx (which swaps no 4xx here) is sent to a full page load instead:
    the same URL, which answers this page, or after a refused login the login form, with the message as a toast."""
    from isp.web.errors import error_response

    if not is_htmx() or wants_json():
        return error_response(403, err.user_message)
    if err.at_login:
        flash(err.user_message, "error")
        target = url_for("auth.login")
    else:
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        target = safe_next(current.path + (f"?{current.query}" if current.query else "")) or url_for("dashboard.index")
    response = current_app.response_class(status=204)
    response.headers["HX-Redirect"] = target
    return response


def csp_nonce() -> str:
    """This response's script/style nonce (one per request, unguessable)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def _allow_list_applies() -> bool:
    """False for health probes, metrics, static files, logout and the API (which checks the token's owner itself)."""
    return not (request.endpoint in ALLOW_LIST_EXEMPT or request.blueprint in ALLOW_LIST_EXEMPT_BLUEPRINTS
                or request.path.startswith("/api/"))


def check_allow_list() -> None:
    """Raise AddressNotAllowed when the logged-in user's role list is set and their address is outside it."""
    from isp.services import security_settings

    if not current_user.is_authenticated or not _allow_list_applies():
        return
    role, ip = current_user.role.value, request.remote_addr or ""
    if not security_settings.ip_allowed(role, ip):
        raise AddressNotAllowed(ip, role)


def _refuse_login_outside_list(app: Flask, user: object, **extra: object) -> None:
    """Refuse a login (after every factor passed) from an address outside the role's list, and keep no session."""
    from isp.services import security_settings

    if not _allow_list_applies():
        return
    role, ip = user.role.value, request.remote_addr or ""  # type: ignore[attr-defined]
    if not security_settings.ip_allowed(role, ip):
        current_app.logger.warning("login by %s refused: address %s outside the %s allow-list",
                                   getattr(user, "username", "?"), ip, role)
        logout_user()
        raise AddressNotAllowed(ip, role, at_login=True)


def init_security(app: Flask) -> None:
    """Install the unauthorized handler, refuse routes that declare no role, enforce the staff IP allow-lists,
    and add the security headers."""
    login_manager.unauthorized_handler(_unauthorized)
    app.add_template_global(csp_nonce)
    user_logged_in.connect(_refuse_login_outside_list, app)

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

    @app.before_request
    def allow_list():
        if request.endpoint in EXEMPT_ENDPOINTS:
            return None
        check_allow_list()
        return None

    app.register_error_handler(AddressNotAllowed, refuse_address)
    app.after_request(security_headers)


def content_security_policy(nonce: str) -> str:
    """The page policy: our own scripts and styles only (no inline code without this response's nonce), no framing."""
    return "; ".join((
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        f"style-src 'self' 'nonce-{nonce}'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ))


def security_headers(response: Response) -> Response:
    """Headers every answer carries (CSP, no sniffing, no framing, referrer and permissions policies, HSTS over TLS),
    and no-store on what a logged-in user (or the login page) is shown."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy(csp_nonce()))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    endpoint = request.endpoint or ""
    if endpoint not in CACHEABLE_ENDPOINTS and (endpoint.startswith("auth.") or _authenticated()) \
            and "no-store" not in headers.get("Cache-Control", ""):
        headers["Cache-Control"] = "no-store"
        headers.pop("Expires", None)
    return response


def _authenticated() -> bool:
    """True when the request carries a logged-in user (never loads one just to decide)."""
    try:
        return bool(current_user.is_authenticated)
    except Exception:  # noqa: BLE001  (a header hook must never turn an answer into a 500)
        return False
