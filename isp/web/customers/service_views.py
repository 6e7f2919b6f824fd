"""Services (subscriptions): the fleet-wide list, add to a customer, edit or move, show password, state buttons, kick."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, request, url_for
from flask_login import current_user

from isp.models import ServiceKind, Subscription, SubscriptionState
from isp.services import customers, service_plans, sessions
from isp.services import subscriptions as subs
from isp.web.auth.forms import EmptyForm
from isp.web.customers import bp
from isp.web.customers.forms import ServiceEditForm, ServiceForm, StateForm
from isp.web.customers.views import customer_or_404
from isp.web.forms import submit
from isp.web.numbers import parse_id
from isp.web.render import render
from isp.web.security import ALL_ROLES, STAFF, forbidden, is_htmx, role_required


def _filters() -> dict:
    """Query-string filters of the services list, checked."""
    out = {key: request.args.get(key, "").strip()[:64] for key in subs.FILTERS}
    for key in ("plan_id", "router_id"):
        if parse_id(out[key]) is None:
            out[key] = ""
    if out["state"] not in {s.value for s in SubscriptionState}:
        out["state"] = ""
    if out["kind"] not in {k.value for k in ServiceKind}:
        out["kind"] = ""
    if current_user.has_role("reseller"):
        out["router_id"] = ""
    return out


@bp.route("/services")
@role_required(*ALL_ROLES)
def services():
    """Every service with its live state, filtered in SQL and paged by ids."""
    filters = _filters()
    page = subs.list_page(current_user, filters, current_app.config["PAGE_SIZE"])
    choices = customers.filter_choices(current_user)
    return render("customers/services.html", block="results", page=page, filters=filters,
                  live=sessions.live_state([s.id for s in page.items]), plans=choices["plans"], routers=choices["routers"],
                  states=[s.value for s in SubscriptionState], kinds=list(ServiceKind))


def subscription_or_404(subscription_id: int) -> Subscription:
    """The service if the current user may see it; 404 otherwise (decided in the query)."""
    sub = subs.get(current_user, subscription_id)
    if sub is None:
        abort(404)
    return sub


def _service_form(form: ServiceForm, plan_id: int | None) -> dict:
    """Fill the plan and router choices; the routers shown are the chosen plan's."""
    sellable = service_plans.sellable()
    plan = next((p for p in sellable if p.id == plan_id), None)
    if "plan_id" in form:
        form.plan_id.choices = [(0, "Choose a plan…")] + [
            (p.id, f"{p.name} · {p.kind.label} · {p.price:.2f} / {service_plans.period_label(p)}") for p in sellable]
    router_list = plan.routers if plan else sorted({r.id: r for p in sellable for r in p.routers}.values(), key=lambda r: r.name)
    form.router_id.choices = [(r.id, r.name) for r in router_list]
    if plan is None or len(router_list) != 1:
        form.router_id.choices.insert(0, (0, "Choose a router…"))
    return {"plan": plan, "sellable": sellable}


@bp.route("/<int:customer_id>/services/new", methods=["GET", "POST"])
@role_required(*ALL_ROLES)
def service_new(customer_id: int):
    """Add a service to a customer; it starts pending and is activated once the first period is paid."""
    customer = customer_or_404(customer_id)
    if not customers.may_sell(current_user):
        return forbidden()
    form = ServiceForm()
    if request.method == "GET" and parse_id(request.args.get("plan_id")):
        form.plan_id.data = parse_id(request.args.get("plan_id"))
    extra = _service_form(form, form.plan_id.data)
    if request.method == "GET" and is_htmx() and request.headers.get("HX-Boosted") != "true":
        return render("customers/service_form.html", block="plan_fields", form=form, customer=customer, sub=None, **extra)
    sub = submit(form, lambda: subs.create(customer, form.values(), current_user), field="username")
    if sub is not None:
        flash(f"{sub.kind.label} service '{sub.username}' added; it starts once the first period is paid.", "success")
        return redirect(url_for("customers.detail", customer_id=customer.id))
    return render("customers/service_form.html", form=form, customer=customer, sub=None, **extra,
                  status=422 if form.errors else 200)


@bp.route("/services/<int:subscription_id>/edit", methods=["GET", "POST"])
@role_required(*ALL_ROLES)
def service_edit(subscription_id: int):
    """Edit a service: login, password, router move, static IP, caller-id lock, grace, auto-renew."""
    sub = subscription_or_404(subscription_id)
    if not customers.may_sell(current_user):
        return forbidden()
    form = ServiceEditForm() if request.method == "POST" else ServiceEditForm.for_subscription(sub)
    form.router_id.choices = [(r.id, r.name) for r in sub.plan.routers] or [(sub.router_id, sub.router.name)]
    lines = submit(form, lambda: subs.edit(sub, form.values(), current_user), field="username")
    if lines is not None:
        flash(f"Saved: {', '.join(line.split(':')[0] for line in lines)}." if lines else "Nothing changed.", "success")
        return redirect(url_for("customers.detail", customer_id=sub.customer_id))
    return render("customers/service_form.html", form=form, customer=sub.customer, sub=sub, plan=sub.plan,
                  status=422 if form.errors else 200)


@bp.route("/services/<int:subscription_id>/password", methods=["POST"])
@role_required(*STAFF)
def service_password(subscription_id: int):
    """Show the service's password (staff, audited); never part of a page by default."""
    sub = subscription_or_404(subscription_id)
    password = submit(EmptyForm(), lambda: subs.reveal_password(sub, current_user))
    if password is None:
        return redirect(url_for("customers.detail", customer_id=sub.customer_id))
    response = render("customers/password.html", block="password", sub=sub, password=password)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/services/<int:subscription_id>/state", methods=["POST"])
@role_required(*STAFF)
def service_state(subscription_id: int):
    """Suspend, reactivate or terminate a service by hand, with a reason."""
    sub = subscription_or_404(subscription_id)
    form = StateForm()
    state = submit(form, lambda: subs.change_state(sub, form.action.data, current_user, form.reason.data))
    if state is not None:
        flash(f"Service '{sub.username}' is now {sub.state.value}.", "success")
    elif form.errors:
        flash(" ".join(e for errs in form.errors.values() for e in errs), "error")
    return redirect(url_for("customers.detail", customer_id=sub.customer_id))


@bp.route("/services/<int:subscription_id>/kick", methods=["POST"])
@role_required(*STAFF)
def service_kick(subscription_id: int):
    """Disconnect the service's live sessions now."""
    sub = subscription_or_404(subscription_id)
    if submit(EmptyForm(), lambda: subs.kick(sub, current_user)) is not None:
        flash(f"Disconnecting '{sub.username}' now.", "success")
    return redirect(url_for("customers.detail", customer_id=sub.customer_id))
