"""Bearer-token authentication, scopes, the staff IP allow-list, the per-token rate limit and audit via=api.

Every API blueprint runs `authenticate_request` before its views (see isp.api.core.ApiBlueprint). The browser
session cookie never authenticates the API (so the API needs no CSRF token): only `Authorization: Bearer isp_...`.

The token's user is made `current_user` for this request only by setting `g._login_user` (what Flask-Login reads
first): no `login_user`, nothing written to the session, no cookie, and service code that reads current_user works.
"""
from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import TypeVar

from flask import current_app, g, request
from limits import parse as parse_limit

from isp.api.errors import ApiError
from isp.extensions import db, limiter
from isp.models import User
from isp.services import audit
from isp.services.security_settings import ip_allowed

F = TypeVar("F", bound=Callable)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
READ = "read"
ADMIN = "admin"


def scopes(*names: str) -> Callable[[F], F]:
    """Declare the scope a write needs (any one of names; admin always passes). GETs need 'read' without this."""

    def decorator(view: F) -> F:
        view._api_scopes = tuple(names)  # type: ignore[attr-defined]
        return view

    return decorator


def _bearer() -> str | None:
    """The raw token from the Authorization header, or None."""
    header = request.headers.get("Authorization", "")
    kind, _, raw = header.partition(" ")
    if kind.lower() != "bearer" or not raw.strip():
        return None
    return raw.strip()


def _declared_scopes() -> tuple[str, ...] | None:
    """The scopes the matched view method declares (a MethodView's method or a plain function), or None."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None:
        return None
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        method = getattr(view_class, request.method.lower(), None)
        if method is None and request.method == "HEAD":
            method = getattr(view_class, "get", None)
        return getattr(method, "_api_scopes", None)
    return getattr(view, "_api_scopes", None)


def required_scopes() -> tuple[str, ...] | None:
    """What this request needs: the declared scopes, 'read' for a safe method, None (deny) for an undeclared write."""
    declared = _declared_scopes()
    if declared:
        return declared
    return (READ,) if request.method in SAFE_METHODS else None


def _check_rate_limit(token_key: str) -> None:
    """Count this request against the token's limit (API_RATE_LIMIT); 429 when over. A storage outage lets it pass."""
    if not (limiter.initialized and limiter.enabled):
        return
    item = parse_limit(current_app.config["API_RATE_LIMIT"])
    try:
        if limiter.limiter.hit(item, "api-token", token_key):
            return
        reset_at, _remaining = limiter.limiter.get_window_stats(item, "api-token", token_key)
    except Exception:  # noqa: BLE001 - the limit is a guard, not a dependency: Redis down must not stop the API
        current_app.logger.warning("API rate limit storage unavailable; request let through")
        return
    wait = max(1, int(reset_at - time.time()) + 1)
    raise ApiError(429, f"This token may make {item} requests; wait {wait} s.", headers={"Retry-After": str(wait)})


def authenticate_request() -> None:
    """Blueprint before_request: authenticate, allow-list, rate-limit, check scope, and mark audit rows via=api."""
    from isp.services import api_tokens

    raw = _bearer()
    token = api_tokens.authenticate(raw) if raw else None
    if token is None:
        raise ApiError(401, "Send a valid API token: Authorization: Bearer isp_..." if raw is None
                       else "The API token is unknown, revoked or expired, or its owner is disabled.")
    user = db.session.get(User, token.user_id)
    if user is None or not user.active:
        raise ApiError(401, "The API token's owner is disabled.")
    ip = request.remote_addr or ""
    if not ip_allowed(user.role.value, ip):
        raise ApiError(403, "Your address is not on the allow-list for your role.")
    # The hash (random) keeps counters of tokens with the same id in different databases (tests) apart.
    _check_rate_limit(f"{token.id}:{token.token_hash[:16]}")
    needed = required_scopes()
    have = token.scope_set
    if needed is None:
        current_app.logger.error("API endpoint %s declares no scope for %s; refusing", request.endpoint, request.method)
        raise ApiError(403, "This operation declares no scope.")
    if ADMIN not in have and not have.intersection(needed):
        raise ApiError(403, f"This token lacks the scope this needs: {' or '.join(needed)} (or admin).")
    g.api_token = token
    g.api_user = user
    g._login_user = user  # current_user for this request only; the session is not touched
    g._api_audit_source = audit.source("api")
    g._api_audit_source.__enter__()
    api_tokens.touch(token, ip)
    db.session.commit()  # the touch, in its own short transaction before the view's


def end_request(_exc: BaseException | None) -> None:
    """Blueprint teardown: leave the via=api audit context."""
    source = g.pop("_api_audit_source", None)
    if source is not None:
        source.__exit__(None, None, None)


def roles(*names: str) -> Callable[[F], F]:
    """Allow the view only to token owners with one of these roles (403 otherwise), like role_required on pages."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: object, **kwargs: object):
            if not g.api_user.has_role(*names):
                raise ApiError(403, f"Your role ({g.api_user.role.value}) may not do this; it needs {' or '.join(names)}.")
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def has_scope(name: str) -> bool:
    """True if the request's token carries name (or admin)."""
    have = g.api_token.scope_set
    return ADMIN in have or name in have


def api_user() -> User:
    """The authenticated user of this API request."""
    return g.api_user
