"""RFC 9457 problem details for every error under /api/: one body shape for our aborts, webargs 422s, crashes and 404s.

    {"type": "/api/v1/docs#problem-validation", "title": "Invalid input", "status": 422,
     "detail": "Check the fields listed in errors.", "instance": "/api/v1/vouchers", "errors": {"limit": ["..."]}}

Raise with `flask_smorest.abort(status, message="...", errors={...})` or `raise ApiError(...)`; a ServiceError that
escapes a view becomes a 422 naming its field.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import marshmallow as ma
from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException

from isp.extensions import db
from isp.services.errors import ServiceError

PROBLEM_TYPE = "application/problem+json"
API_PREFIX = "/api/"
HANDLED_CODES = (400, 401, 403, 404, 405, 406, 409, 410, 412, 413, 415, 422, 428, 429, 500)
# A short slug per status: the `type` URI points at its explanation on the docs page.
SLUGS = {
    400: "bad-request", 401: "unauthenticated", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
    406: "not-acceptable", 409: "conflict", 410: "gone", 412: "precondition-failed", 413: "too-large",
    415: "unsupported-media-type", 422: "validation", 428: "precondition-required", 429: "rate-limited",
    500: "server-error",
}
TITLES = {401: "Authentication required", 403: "Forbidden", 404: "Not found", 409: "Conflict",
          422: "Invalid input", 429: "Too many requests", 500: "Internal server error"}
DETAILS = {
    401: "Send a valid API token: Authorization: Bearer isp_...",
    403: "This token may not do that.",
    404: "There is no such resource, or this token may not see it.",
    405: "This method is not allowed on this resource.",
    413: "The request body is too large.",
    415: "Send the body as application/json.",
    422: "Check the fields listed in errors.",
    429: "Too many requests for this token; wait and retry.",
    500: "The error has been logged. Try again; if it persists, tell the administrator.",
}


class ApiError(Exception):
    """An error answered as a problem; prefer flask_smorest.abort in views, this in helpers outside a view."""

    def __init__(self, status: int, detail: str | None = None, *, errors: Mapping[str, list[str]] | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail or "")
        self.status, self.detail, self.errors, self.headers = status, detail, errors, dict(headers or {})


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details (the body of every 4xx and 5xx answer)."""

    type = ma.fields.String(metadata={"description": "A URI naming the kind of problem (its anchor on /api/v1/docs)"})
    title = ma.fields.String(metadata={"description": "A short summary of the kind of problem"})
    status = ma.fields.Integer(metadata={"description": "The HTTP status code"})
    detail = ma.fields.String(metadata={"description": "What went wrong this time, for a human"})
    instance = ma.fields.String(metadata={"description": "The request path"})
    errors = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()),
                            metadata={"description": "For 422: field name → messages"})


def problem(status: int, detail: str | None = None, *, errors: Mapping[str, list[str]] | None = None,
            headers: Mapping[str, str] | None = None, title: str | None = None) -> Response:
    """A problem+json response."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    body: dict[str, Any] = {
        "type": f"/api/v1/docs#problem-{SLUGS.get(status, 'error')}",
        "title": title or TITLES.get(status, phrase),
        "status": status,
        "detail": detail or DETAILS.get(status, phrase + "."),
        "instance": request.path,
    }
    if errors:
        body["errors"] = {str(k): [str(m) for m in v] for k, v in errors.items()}
    response = current_app.response_class(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_TYPE)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="isp"'
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def flatten(messages: object, prefix: str = "") -> dict[str, list[str]]:
    """webargs/marshmallow messages ({location: {field: [msg]}} or nested dicts) as {"a.b": [msg, ...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for field, msgs in flatten(value, name).items():
                out.setdefault(field, []).extend(msgs)
    elif isinstance(messages, list | tuple):
        for item in messages:
            if isinstance(item, Mapping):
                for field, msgs in flatten(item, prefix).items():
                    out.setdefault(field, []).extend(msgs)
            else:
                out.setdefault(prefix or "_request", []).append(str(item))
    else:
        out.setdefault(prefix or "_request", []).append(str(messages))
    return out


def _validation_errors(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """Field errors from an abort's data, without webargs' location level (json, query, headers...)."""
    raw = data.get("errors") or data.get("messages") or {}
    if isinstance(raw, Mapping) and raw and set(raw) <= {"json", "query", "querystring", "headers", "form", "files",
                                                          "view_args", "path", "cookies"}:
        merged: dict[str, list[str]] = {}
        for messages in raw.values():
            for field, msgs in flatten(messages).items():
                merged.setdefault(field, []).extend(msgs)
        return merged
    return flatten(raw) if raw else {}


def from_exception(err: BaseException) -> Response:
    """The problem for any exception raised while serving an API request (the unit of work is rolled back)."""
    db.session.rollback()
    if isinstance(err, ApiError):
        return problem(err.status, err.detail, errors=err.errors, headers=err.headers)
    if isinstance(err, ServiceError):
        return problem(422, err.message, errors={err.field or "_request": [err.message]})
    if isinstance(err, HTTPException) and err.code:
        data = getattr(err, "data", None) or {}
        errors = _validation_errors(data) if err.code in (400, 422) else {}
        detail = data.get("message")
        if detail is None and err.code not in DETAILS and err.description:
            detail = err.description
        headers = dict(data.get("headers") or {})
        if err.code == 405 and getattr(err, "valid_methods", None):
            headers["Allow"] = ", ".join(err.valid_methods)
        if err.code == 429 and "Retry-After" not in headers:
            headers["Retry-After"] = "60"
        return problem(err.code, detail, errors=errors or None, headers=headers)
    if isinstance(err, RecursionError) and request.is_json:
        # json.loads gives up on arrays/objects nested thousands deep: the body is bad, not the server.
        return problem(400, "The JSON body is nested too deeply.")
    current_app.logger.exception("unhandled API error on %s %s", request.method, request.path)
    return problem(500)


def is_api_request() -> bool:
    """True when the current request is for the API."""
    return request.path.startswith(API_PREFIX)


def register_blueprint_handlers(bp: Any) -> None:
    """Errors raised inside an API view (any kind, crashes included) answer a problem."""
    bp.register_error_handler(Exception, from_exception)


def init_errors(app: Flask) -> None:
    """App-level handlers by status code (they win over the web's HTTPException handler) for /api/ paths only.

    Routing errors (an unknown /api/ path, a wrong method) never reach a blueprint, so these cover them; for any
    other path they hand over to the app's generic handler, so the web pages keep their own error pages.
    """

    def handler(err: HTTPException):
        if is_api_request():
            return from_exception(err)
        generic = app.error_handler_spec.get(None, {}).get(None, {}).get(HTTPException)
        return generic(err) if generic is not None else err

    for code in HANDLED_CODES:
        app.register_error_handler(code, handler)

    @app.after_request
    def api_errors_are_problems(response: Response) -> Response:
        # A safety net: an error answer made by a hook outside the API (deny-by-default, a limiter, a proxy of
        # the web's handler) is turned into a problem, so no HTML and no other JSON shape leaves /api/.
        if response.status_code >= 400 and is_api_request() and response.mimetype != PROBLEM_TYPE:
            fixed = problem(response.status_code)
            for name in ("Retry-After", "Allow", "WWW-Authenticate"):
                if name in response.headers:
                    fixed.headers[name] = response.headers[name]
            return fixed
        return response
