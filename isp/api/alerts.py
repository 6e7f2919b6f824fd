"""/api/v1/alerts: the alert centre for integrations. List (open by default), get, acknowledge, resolve. Staff only."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from flask_smorest import abort
from sqlalchemy import select

from isp.api.auth import api_user, scopes
from isp.api.core import ApiBlueprint
from isp.api.customers import id_field
from isp.api.errors import ProblemSchema
from isp.api.pagination import PageArgs, page_schema, paginate
from isp.extensions import db
from isp.models import Alert, AlertKind, AlertSeverity, AlertState
from isp.services import alert_lists
from isp.services import alerts as engine
from isp.services.errors import ServiceError
from isp.web.numbers import MAX_ID

bp = ApiBlueprint("api_alerts", __name__, url_prefix="/api/v1/alerts",
                  description="Alerts raised by the monitoring rules (staff only: a reseller's token gets 403). "
                              "Acknowledging and resolving need the routers scope.")
LISTED_STATES = ("open", "acknowledged", "resolved")


class AlertSchema(ma.Schema):
    """An alert: a rule's condition on a router (or the whole system), from opened to resolved."""

    id = ma.fields.Integer(required=True)
    rule_id = ma.fields.Integer(required=True)
    router_id = ma.fields.Integer(allow_none=True, required=True)
    target = ma.fields.String(required=True, metadata={"description": "'' (the router or system), 'iface:ether1', ..."})
    state = ma.fields.Enum(AlertState, by_value=True, required=True)
    severity = ma.fields.Enum(AlertSeverity, by_value=True, required=True)
    value = ma.fields.Float(allow_none=True, required=True)
    message = ma.fields.String(required=True)
    suppressed = ma.fields.String(required=True, metadata={"description": "'', maintenance, dependency or flapping"})
    started_at = ma.fields.AwareDateTime(required=True)
    opened_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    last_seen_at = ma.fields.AwareDateTime(required=True)
    acked_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    acked_by_id = ma.fields.Integer(allow_none=True, required=True)
    ack_note = ma.fields.String(required=True)
    resolved_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    resolved_by_id = ma.fields.Integer(allow_none=True, required=True)
    escalated_at = ma.fields.AwareDateTime(allow_none=True, required=True)


class AlertQuery(PageArgs):
    """Filters as on the alert centre."""

    state = ma.fields.String(load_default="open", validate=ma.validate.OneOf(LISTED_STATES))
    severity = ma.fields.Enum(AlertSeverity, by_value=True)
    router_id = id_field()
    kind = ma.fields.Enum(AlertKind, by_value=True)
    q = ma.fields.String(validate=ma.validate.Length(max=64), metadata={"description": "Text in the message or target"})


class AlertNote(ma.Schema):
    """A note for the team (what you are doing about it)."""

    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=engine.NOTE_MAX))


def _staff() -> None:
    if not api_user().has_role("admin", "operator"):
        abort(403, message="Alerts are staff data; a reseller's token cannot read or change them.")


def _alert_or_404(alert_id: int) -> Alert:
    alert = db.session.scalar(select(Alert).where(Alert.id == alert_id, Alert.state != AlertState.pending))
    if alert is None:
        abort(404, message=f"No alert {alert_id}.")
    return alert


@bp.route("")
class Alerts(MethodView):
    @bp.arguments(AlertQuery, location="query")
    @bp.response(200, page_schema(AlertSchema))
    @bp.alt_response(403, schema=ProblemSchema, description="A reseller's token")
    def get(self, args: dict[str, Any]):
        """List alerts, newest first: open ones unless `state` says otherwise; by router, severity, kind or text."""
        _staff()
        filters = alert_lists.clean_filters({
            "tab": args["state"], "severity": args["severity"].value if args.get("severity") else "",
            "router": str(args.get("router_id") or ""), "kind": args["kind"].value if args.get("kind") else "",
            "q": args.get("q") or ""})
        stmt = alert_lists._filtered(filters, current_app.config["ISP_TIMEZONE"], select(Alert)) \
            .where(Alert.state == AlertState(filters["tab"]))
        if args.get("cursor"):
            args = {**args, "cursor": str(min(int(args["cursor"]), MAX_ID + 1))}
        return paginate(stmt, Alert.id, args)


@bp.route("/<int:alert_id>")
class AlertDetail(MethodView):
    @bp.response(200, AlertSchema)
    @bp.alt_response(403, schema=ProblemSchema, description="A reseller's token")
    def get(self, alert_id: int):
        """One alert."""
        _staff()
        return _alert_or_404(alert_id)


def _act(action: Callable[..., Alert], alert_id: int, note: str) -> Alert:
    """Acknowledge or resolve through the alert engine (a refused state change is a 409), commit once."""
    _staff()
    _alert_or_404(alert_id)
    try:
        alert = action(api_user(), alert_id, note.strip())
    except ServiceError as err:
        db.session.rollback()
        if err.field == "note":
            raise
        abort(409, message=err.message)
    db.session.commit()
    return alert


@bp.route("/<int:alert_id>/acknowledge")
class AlertAcknowledge(MethodView):
    @scopes("routers")
    @bp.arguments(AlertNote)
    @bp.response(200, AlertSchema)
    @bp.alt_response(409, schema=ProblemSchema, description="The alert is not open (acknowledged or resolved already)")
    def post(self, data: dict[str, Any], alert_id: int):
        """Acknowledge an open alert with a note: escalation stops; it still resolves by itself."""
        return _act(engine.acknowledge, alert_id, data["note"])


@bp.route("/<int:alert_id>/resolve")
class AlertResolve(MethodView):
    @scopes("routers")
    @bp.arguments(AlertNote)
    @bp.response(200, AlertSchema)
    @bp.alt_response(409, schema=ProblemSchema, description="The alert is resolved already")
    def post(self, data: dict[str, Any], alert_id: int):
        """Resolve an alert by hand (the engine opens it again if the condition still holds)."""
        return _act(engine.resolve, alert_id, data["note"])
