"""The JSON API, /api/v1: flask-smorest (OpenAPI 3 from marshmallow schemas), Bearer tokens, RFC 9457 errors.

init_api(app) is called by isp.web.init_web. The spec is served at /api/v1/openapi.json and rendered by a small
vendored-free page at /api/v1/docs (static/js/api-docs.js; no CDN, no inline script).

How to write a resource (one module per domain in this package, e.g. isp/api/customers.py)
------------------------------------------------------------------------------------------
    import marshmallow as ma
    from flask.views import MethodView
    from flask_smorest import abort

    from isp.api.auth import api_user, scopes
    from isp.api.core import ApiBlueprint
    from isp.api.idempotency import idempotent
    from isp.api.pagination import PageArgs, page_schema, paginate

    bp = ApiBlueprint("api_customers", __name__, url_prefix="/api/v1/customers", description="Customers")

    class CustomerSchema(ma.Schema):              # output: dump_only fields, explicit types (the spec is the contract)
        id = ma.fields.Integer(required=True)
        name = ma.fields.String(required=True)

    class CustomerQuery(PageArgs):                # query filters: PageArgs adds limit (1-200) and cursor
        q = ma.fields.String(validate=ma.validate.Length(max=100))

    @bp.route("")
    class Customers(MethodView):
        @bp.arguments(CustomerQuery, location="query")
        @bp.response(200, page_schema(CustomerSchema))
        def get(self, args):                      # GET needs the 'read' scope without a decorator
            stmt = customers_service.list_query(api_user(), args)   # the web's scoped query; filters in SQL
            return paginate(stmt.options(selectinload(...)), Customer.id, args)

        @scopes("customers")                      # a write MUST declare its scope, else 403 (admin passes all)
        @bp.arguments(CustomerCreate)             # webargs 422 → problem with errors {field: [messages]}
        @bp.response(201, CustomerSchema)
        @bp.alt_response(409, schema=ProblemSchema, description="...")   # document non-422 errors you return
        def post(self, data):
            customer = customers_service.create(data, api_user())   # the same service as the web; it audits
            db.session.commit()                   # the view commits once (except under @idempotent: see below)
            return customer

    @bp.route("/<int:customer_id>")
    class CustomerDetail(MethodView):
        @bp.response(200, CustomerSchema)
        def get(self, customer_id):
            return customers_service.visible(api_user(), customer_id) or abort(404)   # scoped: guess → 404

Then add the module to RESOURCES below (api-res: append yours; keep the order stable).

Rules
- Auth is done for you (isp.api.auth.authenticate_request, run by ApiBlueprint before every view): 401 without a
  live token, 403 off the allow-list, 429 over API_RATE_LIMIT per token, 403 without the scope. `api_user()` (also
  flask_login.current_user, for this request only) is the token's owner; g.api_token the token.
- Reseller scoping: call the service query the web view uses with api_user() (e.g. vouchers.list_query,
  vouchers.visible_batch); never re-implement the filter. Another reseller's id → 404, not 403.
- Errors: `flask_smorest.abort(404|409|422, message="...", errors={"field": ["msg"]})`, or raise ServiceError from
  a service (→ 422 naming err.field), or isp.api.errors.ApiError. Everything becomes application/problem+json.
- Writes: services flush and audit (audit.record); audit rows say via="api" automatically. The view commits once.
- Idempotency: POSTs that create money or vouchers use @idempotent(required=True) ABOVE @bp.arguments/@bp.response
  (and below @scopes); such a view must NOT commit: the decorator commits the change with the stored key.
- Lists: cursor pagination only (PageArgs/paginate/page_schema); eager-load relations the schema dumps.
- No RouterOS or other network I/O in a request: queue a job as the web does and answer 202.
"""
from __future__ import annotations

import importlib
from typing import Any

from flask import Blueprint, Flask, jsonify, render_template
from flask_smorest import Api
from flask_smorest.utils import prepare_response

from isp.api.errors import PROBLEM_TYPE, ProblemSchema
from isp.api.errors import init_errors as init_api_errors
from isp.web.security import public

# Resource modules, each with a module-level ApiBlueprint `bp`. api-res appends its own.
RESOURCES = ("isp.api.routers", "isp.api.plans", "isp.api.vouchers", "isp.api.batches",
             "isp.api.customers", "isp.api.subscriptions", "isp.api.payments", "isp.api.alerts")

docs_bp = Blueprint("api_docs", __name__, url_prefix="/api/v1")


class IspApi(Api):
    """flask-smorest's Api with RFC 9457 problem bodies documented for every error response."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self):
        super()._register_responses()
        import http

        for status in http.HTTPStatus:
            if status >= 400:
                response = {"description": status.phrase, "schema": self.ERROR_SCHEMA}
                prepare_response(response, self.spec, PROBLEM_TYPE)
                self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)

    def register_blueprint(self, blp: Any, *, parameters: Any = None, **options: Any) -> None:
        """smorest's register_blueprint, with the tag named like the operations' (ApiBlueprint.tag)."""
        tags = self.spec.tag
        self.spec.tag = lambda info: tags({**info, "name": getattr(blp, "tag", info["name"])})
        try:
            super().register_blueprint(blp, parameters=parameters, **options)
        finally:
            self.spec.tag = tags

    def _register_error_handlers(self):
        """Errors are handled by isp.api.errors (problems under /api/ only), not app-wide by smorest."""


def _decimal_as_string(_converter: object, field: object, ret: dict, **_kwargs: object) -> dict:
    """Document Decimal(as_string=True) as what it sends, a decimal string (apispec says "number")."""
    import marshmallow as ma

    if isinstance(field, ma.fields.Decimal) and field.as_string:
        return {"type": "string", "format": "decimal", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
    return {}


@docs_bp.get("/openapi.json")
@public
def openapi_json():
    """The OpenAPI 3 document (public: it describes the API, it holds no data)."""
    from flask import current_app

    return jsonify(current_app.extensions["isp_api"].spec.to_dict())


@docs_bp.get("/docs")
@public
def docs():
    """A browsable page of the API rendered from openapi.json by static/js/api-docs.js."""
    return render_template("api/docs.html")


def init_api(app: Flask) -> None:
    """Register the API: the smorest Api, its resource blueprints, the spec and docs pages and the problem handlers."""
    app.config.setdefault("API_TITLE", "isp API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", None)  # served by docs_bp, so it is marked public and CSP-clean
    app.config.setdefault("API_SPEC_OPTIONS", {
        "info": {"description": "Token-authenticated JSON API. Send `Authorization: Bearer isp_...` (create a token "
                                "under Account → API tokens). Errors are RFC 9457 problem details."},
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                                          "description": "A personal API token, isp_..."}}},
        "security": [{"bearerAuth": []}],
    })
    api = IspApi(app)
    api.ma_plugin.converter.add_attribute_function(_decimal_as_string)
    app.extensions["isp_api"] = api
    for name in RESOURCES:
        module = importlib.import_module(name)
        api.register_blueprint(module.bp)
        for endpoint, view in app.view_functions.items():
            if endpoint.startswith(module.bp.name + "."):
                # The deny-by-default hook needs a declaration; the token check is the blueprint's before_request.
                view._public = True
                view._api_token = True
    app.register_blueprint(docs_bp)
    init_api_errors(app)
