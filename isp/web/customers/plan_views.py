"""Service plans (staff): list, add, edit; each save pushes the plan's profile to its routers."""
from __future__ import annotations

from flask import current_app, flash, redirect, request, url_for
from flask_login import current_user

from isp.extensions import db
from isp.models import ServiceKind, ServicePlan
from isp.services import routers, service_plans
from isp.web.customers import bp
from isp.web.customers.forms import ServicePlanForm
from isp.web.forms import submit
from isp.web.render import render
from isp.web.security import STAFF, role_required


@bp.route("/plans")
@role_required(*STAFF)
def plans():
    """Service plans by name, filtered in SQL, with how many live services each has."""
    q, kind, active = (request.args.get(k, "").strip()[:64] for k in ("q", "kind", "active"))
    page = db.paginate(service_plans.list_query(q, kind, active), per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render("customers/plans.html", block="results", page=page, q=q, kind=kind, active=active, kinds=list(ServiceKind),
                  used=service_plans.usage_counts([p.id for p in page.items]), period_label=service_plans.period_label)


def _form(form: ServicePlanForm) -> ServicePlanForm:
    form.router_ids.choices = [(r.id, r.name) for r in routers.by_name()]
    return form


@bp.route("/plans/new", methods=["GET", "POST"])
@role_required(*STAFF)
def plan_new():
    """Add a service plan; its profile is pushed to the chosen routers."""
    form = _form(ServicePlanForm())
    plan = submit(form, lambda: service_plans.create_plan(form.values(), current_user), field="name")
    if plan is not None:
        flash(f"Plan '{plan.name}' saved; its profile is being pushed to {len(plan.routers)} router(s).", "success")
        return redirect(url_for("customers.plans"))
    return render("customers/plan_form.html", form=form, plan=None, used=0, status=422 if form.errors else 200)


@bp.route("/plans/<int:service_plan_id>/edit", methods=["GET", "POST"])
@role_required(*STAFF)
def plan_edit(service_plan_id: int):
    """Edit a service plan; the profile is re-pushed to every router (one command each, not one per user)."""
    plan = db.get_or_404(ServicePlan, service_plan_id)
    form = _form(ServicePlanForm() if request.method == "POST" else ServicePlanForm.for_plan(plan))
    if submit(form, lambda: service_plans.update_plan(plan, form.values(), current_user), field="name") is not None:
        flash(f"Plan '{plan.name}' saved; its profile is being re-pushed to {len(plan.routers)} router(s).", "success")
        return redirect(url_for("customers.plans"))
    return render("customers/plan_form.html", form=form, plan=plan, used=service_plans.subscriptions_using(plan),
                  status=422 if form.errors else 200)
