"""The alert centre: open / acknowledged / resolved alerts with filters, CSV, and one alert's page with its actions."""
from __future__ import annotations

from collections.abc import Callable

from flask import Response, current_app, flash, redirect, request, stream_with_context, url_for
from flask_login import current_user

from isp.extensions import db
from isp.models import Alert, AlertRule, Router
from isp.services import alert_lists, csvout
from isp.services import alerts as engine
from isp.web.alerts import bp
from isp.web.alerts.forms import NoteForm
from isp.web.forms import submit
from isp.web.render import render
from isp.web.security import STAFF, expensive, role_required


def _where() -> tuple[dict, str]:
    return alert_lists.clean_filters(request.args), current_app.config["ISP_TIMEZONE"]


@bp.route("/")
@role_required(*STAFF)
def index():
    """Open alerts first; acknowledged and resolved (history) on their tabs; filtered and paged in SQL."""
    filters, tz = _where()
    page = alert_lists.page(filters, tz, current_app.config["PAGE_SIZE"])
    return render("alerts/index.html", block="results", page=page, filters=filters, names=alert_lists.names(page.items),
                  counts=alert_lists.counts(filters, tz), count_up_to=alert_lists.COUNT_UP_TO,
                  choices=alert_lists.filter_choices())


@bp.route("/alerts.csv")
@role_required(*STAFF)
@expensive("export")
def export():
    """CSV of the alerts on the tab matching the filters (the history on the resolved tab)."""
    filters, tz = _where()
    response = Response(stream_with_context(csvout.stream(alert_lists.CSV_COLUMNS, alert_lists.rows(filters, tz))),
                        mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="alerts-{filters["tab"]}.csv"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/<int:alert_id>")
@role_required(*STAFF)
def detail(alert_id: int):
    """One alert: its rule, target, values, timeline and delivery log, with Acknowledge and Resolve."""
    alert = db.get_or_404(Alert, alert_id)
    return _detail(alert, NoteForm(prefix="ack"), NoteForm(prefix="resolve"))


def _detail(alert: Alert, ack_form: NoteForm, resolve_form: NoteForm, status: int = 200):
    events = alert_lists.timeline(alert.id)
    users = alert_lists.usernames({u for u in (alert.acked_by_id, alert.resolved_by_id,
                                               *(e.actor_id for e in events)) if u})
    return render("alerts/detail.html", alert=alert, rule=db.session.get(AlertRule, alert.rule_id),
                  router=db.session.get(Router, alert.router_id) if alert.router_id else None, events=events,
                  users=users, deliveries=alert_lists.deliveries(alert.id), ack_form=ack_form,
                  resolve_form=resolve_form, status=status)


def _act(alert_id: int, prefix: str, action: Callable[..., Alert], done: str):
    """Acknowledge or resolve with the note typed in the `prefix` form; the page again with the refusal otherwise."""
    alert = db.get_or_404(Alert, alert_id)
    form = NoteForm(prefix=prefix)
    if submit(form, lambda: action(current_user, alert.id, (form.note.data or "").strip()), field="note") is not None:
        flash(f"Alert #{alert_id} {done}.", "success")
        return redirect(url_for("alerts.detail", alert_id=alert_id))
    forms = {"ack": NoteForm(prefix="ack"), "resolve": NoteForm(prefix="resolve"), prefix: form}
    return _detail(db.get_or_404(Alert, alert_id), forms["ack"], forms["resolve"], status=422)


@bp.route("/<int:alert_id>/acknowledge", methods=["POST"])
@role_required(*STAFF)
def acknowledge(alert_id: int):
    """Acknowledge an open alert with a note: escalation stops, the team sees who is on it."""
    return _act(alert_id, "ack", engine.acknowledge, "acknowledged")


@bp.route("/<int:alert_id>/resolve", methods=["POST"])
@role_required(*STAFF)
def resolve(alert_id: int):
    """Resolve an alert by hand (the engine reopens it if the condition still holds)."""
    return _act(alert_id, "resolve", engine.resolve, "resolved")
