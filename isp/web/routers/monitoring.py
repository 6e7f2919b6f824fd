"""The router page's monitoring: graph and live JSON, the log tail, session kicks and interface disable/enable."""
from __future__ import annotations

from flask import current_app, flash, jsonify, redirect, request, url_for
from flask_login import current_user

from isp.extensions import db
from isp.models import Router
from isp.services import router_monitor
from isp.services.errors import ServiceError
from isp.web.forms import submit
from isp.web.render import render
from isp.web.routers import bp
from isp.web.routers.forms import InterfaceForm, KickForm
from isp.web.security import STAFF, is_htmx, role_required


def _json(payload: dict, status: int = 200):
    response = jsonify(payload)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<int:router_id>/graph.json")
@role_required(*STAFF)
def graph(router_id: int):
    """Chart columns of one series over a range (1h…1y) or a zoomed start/end; 400 with a message when bad."""
    router = db.get_or_404(Router, router_id)
    try:
        return _json(router_monitor.graph(router, request.args.get("series", "system"), request.args))
    except ServiceError as err:
        return _json({"error": err.message, "field": err.field}, 400)


@bp.route("/<int:router_id>/live.json")
@role_required(*STAFF)
def live(router_id: int):
    """The last minute of interface rates; asking keeps the router's live read going (no router I/O here)."""
    data = router_monitor.live(db.get_or_404(Router, router_id))
    return _json(data)


@bp.route("/<int:router_id>/log")
@role_required(*STAFF)
def log(router_id: int):
    """The router's log tail, newest first, searched by text and topic in SQL (the panel's block for htmx)."""
    router = db.get_or_404(Router, router_id)
    if not is_htmx() or request.headers.get("HX-Boosted") == "true":
        kept = {key: request.args[key] for key in ("q", "topic", "page") if request.args.get(key)}
        return redirect(url_for("routers.detail", router_id=router.id, **kept) + "#router-log")
    return render("routers/_monitoring.html", block="log", router=router, **log_context(router))


def log_context(router: Router) -> dict:
    """The log panel's page and filters from the query string."""
    q, topic = request.args.get("q", ""), request.args.get("topic", "")
    page = db.paginate(router_monitor.log_query(router.id, q, topic), per_page=current_app.config["PAGE_SIZE"],
                       error_out=False)
    return {"log_page": page, "log_q": q, "log_topic": topic}


def page_context(router: Router) -> dict:
    """What the detail page's monitoring section shows (a handful of indexed queries, no router I/O)."""
    ifaces = router_monitor.interfaces(router.id)
    sessions, session_total = router_monitor.sessions(router)
    return {"ifaces": ifaces, "iface_status": router_monitor.status, "iface_pending": router_monitor.pending_changes(router.id),
            "is_management": lambda iface: router_monitor.management_interface(router, iface),
            "sessions": sessions, "session_total": session_total, "session_limit": router_monitor.SESSION_LIMIT,
            "ranges": list(router_monitor.RANGES), "kick_form": KickForm(), "action_form": InterfaceForm(),
            "parent": db.session.get(Router, router.parent_id) if router.parent_id else None, **log_context(router)}


@bp.route("/<int:router_id>/kick", methods=["POST"])
@role_required(*STAFF)
def kick(router_id: int):
    """Disconnect one user online on the router (queued on critical)."""
    router, form = db.get_or_404(Router, router_id), KickForm()
    done = submit(form, lambda: router_monitor.kick(router, form.username.data.strip(), current_user))
    if done:
        flash(f"Disconnect of {done} queued (critical): it drops off the list at the next session poll.", "success")
    elif form.errors:
        flash("The kick form was stale: reload the page and try again.", "error")
    return redirect(url_for("routers.detail", router_id=router.id) + "#router-sessions")


@bp.route("/<int:router_id>/interface", methods=["POST"])
@role_required("admin", "operator")
def interface(router_id: int):
    """Disable or enable one interface after the page's confirmation (queued on high, audited)."""
    router, form = db.get_or_404(Router, router_id), InterfaceForm()
    if not form.validate_on_submit():
        flash("The form was stale: reload the page and try again.", "error")
    elif submit(None, lambda: router_monitor.set_interface(router, form.iface_id.data, form.action.data == "disable",
                                                            current_user)):
        flash(f"Interface change queued ({form.action.data}) on {router.name}: the list shows it after the next poll.",
              "success")
    return redirect(url_for("routers.detail", router_id=router.id) + "#router-interfaces")
