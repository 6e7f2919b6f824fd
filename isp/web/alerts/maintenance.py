"""Maintenance windows: current, upcoming and past; staff create them for a router or a site, end them and delete them."""
from __future__ import annotations

from flask import current_app, flash, redirect, request, url_for
from flask_login import current_user

from isp.extensions import db
from isp.models import MaintenanceWindow
from isp.services import maintenance as windows
from isp.services import periods, routers
from isp.web.alerts import bp
from isp.web.alerts.forms import WindowForm
from isp.web.auth.forms import EmptyForm
from isp.web.forms import submit
from isp.web.render import render
from isp.web.security import STAFF, role_required


def _form() -> WindowForm:
    form = WindowForm()
    form.router_id.choices = [("", "—")] + [(str(r.id), r.name) for r in routers.by_name()]
    form.site.choices = [("", "—")] + [(s, s) for s in routers.sites()]
    if request.method == "GET" and request.args.get("router_id", "").isdigit():
        form.router_id.data = request.args["router_id"]
    return form


@bp.route("/maintenance", methods=["GET", "POST"])
@role_required(*STAFF)
def maintenance():
    """The windows on a tab, and the form to add one (times in the operator's timezone)."""
    tab = request.args.get("tab", "current")
    tab = tab if tab in windows.TABS else "current"
    tz, now = current_app.config["ISP_TIMEZONE"], periods.second()
    form = _form()
    if request.method == "POST":
        window = submit(form, lambda: windows.create_window(current_user, form.values(), tz, periods.second()),
                        field="reason")
        if window is not None:
            flash("Maintenance window added: its alerts stay listed but send nothing until it ends.", "success")
            return redirect(url_for("alerts.maintenance", tab="current" if window.starts_at <= now else "upcoming"))
    page = windows.windows_page(tab, now, current_app.config["PAGE_SIZE"])
    router_names, users = windows.names(page.items)
    return render("alerts/maintenance.html", block="results", page=page, tab=tab, form=form, router_names=router_names,
                  users=users, tz=tz, button_form=EmptyForm(), status=422 if form.errors else 200)


@bp.route("/maintenance/<int:window_id>/end", methods=["POST"])
@role_required(*STAFF)
def maintenance_end(window_id: int):
    """End a window now."""
    window = db.get_or_404(MaintenanceWindow, window_id)
    if submit(EmptyForm(), lambda: windows.end_now(current_user, window, periods.second())) is not None:
        flash("Maintenance window ended.", "success")
    return redirect(url_for("alerts.maintenance", tab="past"))


@bp.route("/maintenance/<int:window_id>/delete", methods=["POST"])
@role_required(*STAFF)
def maintenance_delete(window_id: int):
    """Delete a window."""
    window = db.get_or_404(MaintenanceWindow, window_id)
    if submit(EmptyForm(), lambda: windows.delete_window(current_user, window)) is not None:
        flash("Maintenance window deleted.", "success")
    return redirect(url_for("alerts.maintenance", tab=request.args.get("tab", "current")))
