"""Views to list, create and edit hotspot plans (staff)."""
from __future__ import annotations

from flask import current_app, flash, redirect, request, url_for
from flask_login import current_user

from isp.extensions import db
from isp.models import HotspotPlan
from isp.services import plans, routers
from isp.web.forms import submit
from isp.web.plans import bp
from isp.web.plans.forms import PlanForm
from isp.web.render import render
from isp.web.security import STAFF, role_required


@bp.route("/")
@role_required(*STAFF)
def index():
    """Plans, filtered in SQL by name and active flag."""
    q, active = request.args.get("q", ""), request.args.get("active", "")
    page = db.paginate(plans.list_query(q, active), per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render("plans/index.html", block="results", page=page, q=q, active=active)


def _form(form: PlanForm) -> PlanForm:
    form.router_ids.choices = [(r.id, r.name) for r in routers.by_name()]
    return form


@bp.route("/new", methods=["GET", "POST"])
@role_required(*STAFF)
def create():
    """Add a plan; its profile is pushed to the chosen routers."""
    form = _form(PlanForm())
    plan = submit(form, lambda: plans.create_plan(form.values(), current_user), field="name")
    if plan is not None:
        flash(f"Plan '{plan.name}' saved; its profile is being pushed to {len(plan.routers)} router(s).", "success")
        return redirect(url_for("plans.index"))
    return render("plans/form.html", form=form, plan=None, status=422 if form.errors else 200)


@bp.route("/<int:plan_id>/edit", methods=["GET", "POST"])
@role_required(*STAFF)
def edit(plan_id: int):
    """Edit a plan; vouchers already sold keep the terms they were sold with."""
    plan = db.get_or_404(HotspotPlan, plan_id)
    form = _form(PlanForm() if request.method == "POST" else PlanForm.for_plan(plan))
    if submit(form, lambda: plans.update_plan(plan, form.values(), current_user), field="name") is not None:
        flash(f"Plan '{plan.name}' saved; its profile is being re-pushed.", "success")
        return redirect(url_for("plans.index"))
    return render("plans/form.html", form=form, plan=plan, status=422 if form.errors else 200)
