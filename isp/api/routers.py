"""/api/v1/routers: list, get and status of routers (staff), read from SQL and Redis only, never from a router."""
from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import abort
from redis.exceptions import RedisError

from isp.api.auth import roles
from isp.api.core import ApiBlueprint
from isp.api.pagination import PageArgs, after_cursor, page_of, page_schema
from isp.extensions import db
from isp.models import Router, RouterMode
from isp.routeros.status import latest_metrics
from isp.services import routers
from isp.web.routers.reads import circuits, status
from isp.web.security import STAFF

bp = ApiBlueprint("api_routers", __name__, url_prefix="/api/v1/routers",
                  description="Routers of the fleet and their health (staff tokens; no router is contacted).")


class HealthSchema(ma.Schema):
    """A router's health as the routers page shows it."""

    label = ma.fields.String(required=True,
                             metadata={"description": "Online, Stale, Degraded, Offline, Disabled, Never contacted"})
    kind = ma.fields.String(required=True, metadata={"description": "ok, warn, bad or off"})
    explanation = ma.fields.String(required=True)
    circuit = ma.fields.String(required=True, metadata={"description": "closed, half-open, open or unknown (Redis down)"})


class RouterSchema(ma.Schema):
    """A router (never its passwords, keys or secrets)."""

    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    site = ma.fields.String(required=True)
    mode = ma.fields.Enum(RouterMode, by_value=True, required=True)
    enabled = ma.fields.Boolean(required=True)
    addresses = ma.fields.List(ma.fields.String(), required=True)
    api_port = ma.fields.Integer(required=True)
    parent_id = ma.fields.Integer(allow_none=True, required=True)
    hotspot_dns = ma.fields.String(required=True)
    tunnel_address = ma.fields.String(allow_none=True, required=True)
    identity = ma.fields.String(required=True)
    version = ma.fields.String(required=True)
    board = ma.fields.String(required=True)
    last_seen_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    last_error = ma.fields.String(required=True)
    created_at = ma.fields.AwareDateTime(required=True)
    health = ma.fields.Nested(HealthSchema, required=True)


class RouterStatusSchema(ma.Schema):
    """Health and the last polled resources (null when no fresh poll is stored)."""

    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    health = ma.fields.Nested(HealthSchema, required=True)
    last_seen_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    metrics = ma.fields.Dict(keys=ma.fields.String(), allow_none=True, required=True,
                             metadata={"description": "The last poll's figures (cpu, memory, uptime...), as stored"})


class RouterQuery(PageArgs):
    """Filters of the router list."""

    q = ma.fields.String(validate=ma.validate.Length(max=100), metadata={"description": "Name or identity contains"})
    site = ma.fields.String(validate=ma.validate.Length(max=120))
    enabled = ma.fields.Boolean()


def _health(found: dict[int, dict], router: Router) -> dict:
    """The page's health triple for router, with its circuit state."""
    circuit = found.get(router.id, {}).get("state", "unknown")
    label, kind, explanation = status(router, circuit)
    return {"label": label, "kind": kind, "explanation": explanation, "circuit": circuit}


def _circuits(ids: list[int]) -> dict[int, dict]:
    """Circuit states in one Redis round trip; none (circuit 'unknown') when Redis is down."""
    try:
        return circuits(ids)
    except RedisError:
        return {}


def _router_or_404(router_id: int) -> Router:
    return db.session.get(Router, router_id) or abort(404)


def _dump(router: Router, found: dict[int, dict]) -> dict:
    return {**{f: getattr(router, f) for f in RouterSchema().fields if f != "health"}, "health": _health(found, router)}


@bp.route("")
class Routers(MethodView):
    """The router list."""

    @roles(*STAFF)
    @bp.arguments(RouterQuery, location="query")
    @bp.response(200, page_schema(RouterSchema))
    def get(self, args: dict):
        """Routers, newest first, filtered by name/identity, site and enabled state."""
        enabled = {True: "enabled", False: "disabled"}.get(args.get("enabled"), "")
        stmt = routers.list_query(args.get("q", ""), args.get("site", ""), enabled).order_by(None)
        rows = list(db.session.scalars(after_cursor(stmt, Router.id, args)))
        page = page_of(rows, args)
        found = _circuits([r.id for r in page["items"]])
        page["items"] = [_dump(r, found) for r in page["items"]]
        return page


@bp.route("/<int:router_id>")
class RouterDetail(MethodView):
    """One router."""

    @roles(*STAFF)
    @bp.response(200, RouterSchema)
    def get(self, router_id: int):
        """A router with its health."""
        router = _router_or_404(router_id)
        return _dump(router, _circuits([router.id]))


@bp.route("/<int:router_id>/status")
class RouterStatus(MethodView):
    """A router's health and last metrics."""

    @roles(*STAFF)
    @bp.response(200, RouterStatusSchema)
    def get(self, router_id: int):
        """Health from the circuit breaker and last contact, and the last poll's figures (from Redis)."""
        router = _router_or_404(router_id)
        try:
            metrics = latest_metrics(router.id)
        except RedisError:
            metrics = None
        return {"id": router.id, "name": router.name, "health": _health(_circuits([router.id]), router),
                "last_seen_at": router.last_seen_at, "metrics": metrics}
