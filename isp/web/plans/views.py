"""Views to list, create and edit hotspot plans (staff)."""
from __future__ import annotations

from flask import current_app, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select

from isp.extensions import db
from isp.models import HotspotPlan, Router
from isp.services import plans
from isp.services.errors import ServiceError
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
    form.router_ids.choices = [(r.id, r.name) for r in db.session.scalars(select(Router).order_by(Router.name))]
    return form


def _save(form: PlanForm, action):
    """Validate, call the service, commit once; None when the form must be shown again."""
    if not form.validate_on_submit():
        return None
    try:
        plan = action(form.values())
    except ServiceError as err:
        db.session.rollback()
        getattr(form, err.field or "name").errors.append(err.message)
        return None
    db.session.commit()
    return plan


@bp.route("/new", methods=["GET", "POST"])
@role_required(*STAFF)
def create():
    """Add a plan; its profile is pushed to the chosen routers."""
    form = _form(PlanForm())
    plan = _save(form, lambda data: plans.create_plan(data, current_user))
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
    if _save(form, lambda data: plans.update_plan(plan, data, current_user)) is not None:
        flash(f"Plan '{plan.name}' saved; its profile is being re-pushed.", "success")
        return redirect(url_for("plans.index"))
    return render("plans/form.html", form=form, plan=plan, status=422 if form.errors else 200)
