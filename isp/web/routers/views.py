"""Views to list, register, edit, delete and test routers (staff only)."""
from __future__ import annotations

from flask import Response, abort, current_app, flash, make_response, redirect, request, url_for
from flask_login import current_user

from isp.extensions import db
from isp.models import Router, RouterCommand
from isp.routeros.status import latest_metrics
from isp.services import onboarding, reconcile, routers
from isp.services.errors import ServiceError
from isp.web.auth.forms import EmptyForm
from isp.web.forms import submit
from isp.web.render import render
from isp.web.routers import bp, monitoring, reads
from isp.web.routers.forms import DeleteForm, OnboardForm, RouterForm
from isp.web.security import STAFF, is_htmx, role_required


@bp.route("/")
@role_required(*STAFF)
def index():
    """List routers, filtered in SQL by search, site and enabled state."""
    q, site, state = request.args.get("q", ""), request.args.get("site", ""), request.args.get("status", "")
    page = db.paginate(routers.list_query(q, site, state), per_page=current_app.config["PAGE_SIZE"], error_out=False)
    circuits = reads.circuits([r.id for r in page.items])
    return render("routers/index.html", block="results", page=page, q=q, site=site, state=state,
                  sites=routers.sites(), circuits=circuits, status_of=reads.status, badges=reads.CIRCUIT_BADGE)


@bp.route("/new", methods=["GET", "POST"])
@role_required(*STAFF)
def create():
    """Register a router."""
    form = RouterForm().offer_parents(routers.by_name(), None)
    router = submit(form, lambda: routers.create_router(form.values(), current_user), field="name")
    if router is not None:
        flash(f"Router '{router.name}' added. Its tunnel address is {router.tunnel_address}: run its setup script "
              "(Onboarding), then check the connection.", "success")
        return redirect(url_for("routers.detail", router_id=router.id))
    return render("routers/form.html", form=form, router=None, status=422 if form.errors else 200)


@bp.route("/<int:router_id>/edit", methods=["GET", "POST"])
@role_required(*STAFF)
def edit(router_id: int):
    """Edit a router; a blank password keeps the stored one."""
    router = db.get_or_404(Router, router_id)
    form = (RouterForm() if request.method == "POST" else RouterForm.for_router(router)).offer_parents(
        routers.by_name(), router)
    if submit(form, lambda: routers.update_router(router, form.values(), current_user), field="name") is not None:
        flash(f"Router '{router.name}' saved.", "success")
        return redirect(url_for("routers.detail", router_id=router.id))
    return render("routers/form.html", form=form, router=router, status=422 if form.errors else 200)


def _detail(router: Router, command: RouterCommand | None = None):
    """The detail page, or only its test widget for htmx (a boosted navigation gets the whole page)."""
    if is_htmx() and request.headers.get("HX-Boosted") != "true":
        return render("routers/detail.html", block="test", router=router, command=command, test_form=EmptyForm())
    circuit = reads.circuits([router.id])[router.id]
    return render("routers/detail.html", router=router, command=command, circuit=circuit, metrics=latest_metrics(router.id),
                  commands=routers.recent_commands(router.id), health=reads.status(router, circuit["state"]),
                  badges=reads.CIRCUIT_BADGE, test_form=EmptyForm(), delete_form=DeleteForm(),
                  sync=reconcile.last_report(router.id), sync_form=EmptyForm(), onboard_form=OnboardForm(),
                  **monitoring.page_context(router))


@bp.route("/<int:router_id>/sync", methods=["GET", "POST"])
@role_required(*STAFF)
def sync(router_id: int):
    """Queue a reconcile (POST) and show the drift it found and fixed (GET, polled by the panel while it runs)."""
    router = db.get_or_404(Router, router_id)
    if request.method == "POST":
        form = EmptyForm()
        if not form.validate_on_submit() or submit(None, lambda: reconcile.request_sync(router, current_user)) is None:
            return redirect(url_for("routers.detail", router_id=router.id))
        if not is_htmx():
            flash(f"Sync of '{router.name}' queued: the panel below shows what it finds.", "success")
            return redirect(url_for("routers.detail", router_id=router.id))
    if not is_htmx() or request.headers.get("HX-Boosted") == "true":  # only the panel polls this; a person sees the page
        return redirect(url_for("routers.detail", router_id=router.id))
    return render("routers/detail.html", block="sync", router=router, sync=reconcile.last_report(router.id),
                  sync_form=EmptyForm())


@bp.route("/<int:router_id>")
@role_required(*STAFF)
def detail(router_id: int):
    """One router: settings, latest metrics, circuit, recent commands."""
    return _detail(db.get_or_404(Router, router_id))


@bp.route("/<int:router_id>/test", methods=["POST"])
@role_required(*STAFF)
def test(router_id: int):
    """Queue a connection test; htmx gets the widget that polls for its result."""
    router = db.get_or_404(Router, router_id)
    command = submit(None, lambda: routers.request_test(router, current_user))
    if command is None:
        return redirect(url_for("routers.detail", router_id=router.id))
    if is_htmx():
        return _detail(router, command)
    return redirect(url_for("routers.test_result", router_id=router.id, command_id=command.id))


@bp.route("/<int:router_id>/test/<int:command_id>")
@role_required(*STAFF)
def test_result(router_id: int, command_id: int):
    """The state of one connection test (polled by its widget until it finishes)."""
    command = db.get_or_404(RouterCommand, command_id)
    if command.router_id != router_id or command.operation != "router.test":
        abort(404)
    return _detail(command.router, command)


@bp.route("/<int:router_id>/delete", methods=["POST"])
@role_required(*STAFF)
def delete(router_id: int):
    """Delete a router; the service refuses while commands are unfinished unless an admin forces it."""
    router, form = db.get_or_404(Router, router_id), DeleteForm()
    if not (form.validate_on_submit() and form.confirm.data):
        flash("Tick the confirmation box to delete the router.", "error")
        return redirect(url_for("routers.detail", router_id=router.id))
    if submit(None, lambda: routers.delete_router(router, current_user, force=bool(form.force.data))) is None:
        return redirect(url_for("routers.detail", router_id=router_id))
    flash(f"Router '{router.name}' deleted.", "success")
    return redirect(url_for("routers.index"))


def _no_store(response: Response) -> Response:
    """The setup script carries the router's secrets: no cache may keep a copy."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@bp.route("/<int:router_id>/onboarding")
@role_required("admin")
def onboarding_page(router_id: int):
    """The setup script (with a copy button and a download), the hub's [Peer] block and Check (admin: it holds secrets)."""
    router, settings = db.get_or_404(Router, router_id), onboarding.settings_row()
    missing = onboarding.ready(router, settings)
    script = None if missing else onboarding.setup_script(router, settings)
    return _no_store(make_response(render("routers/onboarding.html", router=router, script=script, missing=missing,
                                          peer=onboarding.hub_peer(router) if router.onboarded else "",
                                          settings=settings, check_form=EmptyForm(), onboard_form=OnboardForm())))


@bp.route("/<int:router_id>/setup.rsc")
@role_required("admin")
def setup_script(router_id: int):
    """The setup script as `<router-name>.rsc`."""
    router = db.get_or_404(Router, router_id)
    try:
        script = onboarding.setup_script(router)
    except ServiceError as err:
        flash(err.message, "error")
        return redirect(url_for("routers.onboarding_page", router_id=router.id))
    response = make_response(script)
    response.mimetype = "text/plain"
    response.headers["Content-Disposition"] = f'attachment; filename="{onboarding.filename(router)}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return _no_store(response)


@bp.route("/<int:router_id>/onboard", methods=["POST"])
@role_required("admin")
def onboard(router_id: int):
    """Allocate a tunnel address, keys and RADIUS secret for a router added before onboarding existed."""
    router, form = db.get_or_404(Router, router_id), OnboardForm()
    if not form.validate_on_submit():
        abort(400)
    done = submit(None, lambda: onboarding.onboard(router, current_user, generate_login=bool(form.generate_login.data)))
    if done is not None:
        flash(f"'{router.name}' onboarded at {router.tunnel_address}: run the setup script on it, then Check.", "success")
        return redirect(url_for("routers.onboarding_page", router_id=router.id))
    return redirect(url_for("routers.detail", router_id=router.id))


@bp.route("/<int:router_id>/radius-secret", methods=["POST"])
@role_required("admin")
def rotate_secret(router_id: int):
    """Give the router a new RADIUS secret (FreeRADIUS takes it at once; the router when the script runs again)."""
    router, form = db.get_or_404(Router, router_id), EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    if submit(None, lambda: onboarding.rotate_radius_secret(router, current_user)) is not None:
        flash(f"New RADIUS secret for '{router.name}': run the setup script on the router again.", "success")
    return redirect(url_for("routers.onboarding_page", router_id=router.id))


@bp.route("/<int:router_id>/check", methods=["POST"])
@role_required(*STAFF)
def check(router_id: int):
    """Put the tunnel address first and queue the normal connection test (the worker probes; no router I/O here)."""
    router, form = db.get_or_404(Router, router_id), EmptyForm()
    if not form.validate_on_submit():
        abort(400)

    def work():
        if not router.onboarded:
            raise ServiceError(f"'{router.name}' is not onboarded yet: it has no tunnel address to check.")
        onboarding.tunnel_first(router, current_user)
        return routers.request_test(router, current_user)

    command = submit(None, work)
    if command is None:
        return redirect(url_for("routers.detail", router_id=router.id))
    if is_htmx():
        return _detail(router, command)
    return redirect(url_for("routers.test_result", router_id=router.id, command_id=command.id))
