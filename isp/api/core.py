"""ApiBlueprint: a flask-smorest Blueprint whose every view is token-authenticated, CSRF-exempt and answers problems."""
from __future__ import annotations

from typing import Any

from flask import Response as FlaskResponse
from flask import g, request
from flask_smorest import Blueprint

from isp.api.auth import authenticate_request, end_request
from isp.api.errors import ApiError, register_blueprint_handlers
from isp.extensions import csrf

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _json_body_only() -> None:
    """415 for a write whose body is not JSON (webargs would otherwise read it as 'no fields')."""
    if request.method in BODY_METHODS and (request.content_length or request.headers.get("Transfer-Encoding")) \
            and not request.is_json:
        raise ApiError(415, "Send the body as application/json.")


def _response_headers(response: FlaskResponse) -> FlaskResponse:
    """No caching of API answers; the next-page Link a paginated view computed."""
    response.headers.setdefault("Cache-Control", "no-store")
    link = g.pop("api_link_next", None)
    if link and response.status_code == 200:
        response.headers["Link"] = link
    return response


# Every operation can answer these (the hook's checks); documented so clients and schemathesis expect them.
COMMON_ERRORS = {401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 429: "TOO_MANY_REQUESTS"}
BODY_ERRORS = {400: "BAD_REQUEST", 409: "CONFLICT", 413: "REQUEST_ENTITY_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE"}


def _document_errors(doc: dict, doc_info: dict, *, method: str, **_kwargs: Any) -> dict:
    """Add the problem responses the framework may give to every operation's documented responses."""
    responses = doc_info.setdefault("response", {}).setdefault("responses", {})
    errors = {**COMMON_ERRORS, **(BODY_ERRORS if method.upper() in BODY_METHODS else {})}
    for status, name in errors.items():
        responses.setdefault(status, []).append(name)
    return doc


class ApiBlueprint(Blueprint):
    """A resource blueprint of /api/v1: Bearer token, scopes, allow-list, rate limit, via=api, RFC 9457 errors."""

    def __init__(self, name: str, import_name: str, **kwargs: Any) -> None:
        super().__init__(name, import_name, **kwargs)
        csrf.exempt(self)  # no cookie authenticates the API, so a cross-site request carries no credentials
        self.before_request(authenticate_request)
        self.before_request(_json_body_only)
        self.after_request(_response_headers)
        self.teardown_request(end_request)
        register_blueprint_handlers(self)
        self._prepare_doc_cbks.insert(0, _document_errors)
        self.tag = name.removeprefix("api_")  # the OpenAPI tag: "vouchers", not the blueprint's name

    def route(self, rule: str, *, parameters: Any = None, tags: Any = None, **options: Any) -> Any:
        """smorest's route, tagging operations with the resource name."""
        return super().route(rule, parameters=parameters, tags=tags or [self.tag], **options)
