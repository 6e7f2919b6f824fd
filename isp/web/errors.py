"""Error pages that render as fragments for htmx and JSON for the API."""
from __future__ import annotations

from flask import Flask, jsonify, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from isp.extensions import db
from isp.web.render import render

MESSAGES = {
    400: ("Bad request", "The request could not be understood."),
    403: ("Not allowed", "Your role does not allow you to see this page."),
    404: ("Not found", "There is nothing here. It may have been deleted, or the address is mistyped."),
    405: ("Not allowed", "That action is not available this way."),
    413: ("Upload too large", "The file or form is larger than the panel accepts (8 MB). Send a smaller one."),
    429: ("Slow down", "Too many requests. Wait a moment and try again."),
    500: ("Something went wrong", "The error has been logged. Try again; if it persists, tell your administrator."),
}


def error_response(code: int, message: str | None = None):
    """Render the error page (or its block for htmx, or JSON)."""
    title, default = MESSAGES.get(code, ("Error", "An error occurred."))
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        return jsonify(error=title, message=message or default), code
    response = render("errors/error.html", block="content", status=code, code=code, title=title, message=message or default)
    if request.headers.get("HX-Request") == "true":
        # htmx does not swap 4xx/5xx by default: retarget the main panel so the user sees it.
        response.headers["HX-Retarget"] = "#main"
        response.headers["HX-Reswap"] = "innerHTML"
    return response


def init_errors(app: Flask) -> None:
    """Register handlers for HTTP errors, CSRF failures and crashes."""

    @app.errorhandler(CSRFError)
    def csrf_error(err: CSRFError):
        return error_response(400, "Your form expired or was not sent from this site. Reload the page and try again.")

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        if err.code == 429:
            return too_many()
        if err.code in MESSAGES:
            # Our own refusals carry a message for the user (the staff allow-list names the address and role).
            return error_response(err.code, getattr(err, "user_message", None))
        return err

    @app.errorhandler(Exception)
    def crash(err: Exception):
        db.session.rollback()
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500)


def too_many():
    """429 naming the wait of the limit this request broke (Flask-Limiter's window), with Retry-After."""
    import math
    import time

    from isp.extensions import limiter

    try:
        current = limiter.current_limit if limiter.initialized else None
        wait = max(1, math.ceil(current.reset_at - time.time())) if current is not None else 0
    except Exception:  # noqa: BLE001  (only a hint; the storage may be down)
        wait = 0
    answer = error_response(429, f"Too many requests. Wait {wait} seconds and try again." if wait else None)
    response = answer[0] if isinstance(answer, tuple) else answer
    if wait:
        response.headers["Retry-After"] = str(wait)
    return answer
