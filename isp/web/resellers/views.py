"""Reseller accounts (admin) and a reseller's own account page."""
from __future__ import annotations

from typing import TypeVar

from flask import Response, abort, current_app, flash, redirect, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from isp.extensions import db
from isp.models import User
from isp.services import ledger, resellers
from isp.services import plans as plan_service  # `plans` is this blueprint's endpoint below
from isp.web.filters import money
from isp.web.forms import submit
from isp.web.render import render
from isp.web.resellers import bp
from isp.web.resellers.forms import EntryForm, PlansForm, ResellerForm, SellServicesForm
from isp.web.security import role_required

_PlanChoiceForm = TypeVar("_PlanChoiceForm", ResellerForm, PlansForm)


def _plan_choices(form: _PlanChoiceForm) -> _PlanChoiceForm:
    form.plan_ids.choices = [(p.id, p.name) for p in plan_service.by_name()]
    return form


@bp.route("/")
@role_required("admin")
def index():
    """Resellers with their balances."""
    q = request.args.get("q", "")
    page = db.paginate(resellers.list_query(q), per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render("resellers/index.html", block="results", page=page, q=q,
                  balances=resellers.balances_by_user([u.id for u in page.items]))


@bp.route("/new", methods=["GET", "POST"])
@role_required("admin")
def create():
    """Create a reseller login and choose the plans they may sell."""
    form = _plan_choices(ResellerForm())
    user = submit(form, lambda: resellers.create_reseller(form.username.data, form.password.data, form.full_name.data or "",
                                                          form.plan_ids.data or [], current_user,
                                                          can_sell_services=form.can_sell_services.data), field="username")
    if user is not None:
        flash(f"Reseller '{user.username}' created. Top up their balance so they can buy vouchers.", "success")
        return redirect(url_for("resellers.detail", user_id=user.id))
    return render("resellers/create.html", form=form, status=422 if form.errors else 200)


def _account_page(user: User, status: int = 200, **forms: FlaskForm) -> Response:
    account = ledger.account_for(user)
    page = db.paginate(ledger.entries_query(account.id), per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render("resellers/detail.html", block="ledger", reseller=user, balance=ledger.balance(account.id), page=page,
                  plans=resellers.allowed_plans(user.id), status=status, **forms)


@bp.route("/<int:user_id>")
@role_required("admin")
def detail(user_id: int):
    """A reseller: balance, ledger, allowed plans; forms to post money and change plans."""
    user = resellers.get_reseller(user_id) or abort(404)
    plans_form = _plan_choices(PlansForm(data={"plan_ids": sorted(resellers.allowed_plan_ids(user.id))}))
    return _account_page(user, entry_form=EntryForm(), plans_form=plans_form, sell_form=_sell_form(user))


def _sell_form(user: User) -> SellServicesForm:
    return SellServicesForm(data={"can_sell_services": user.can_sell_services})


@bp.route("/<int:user_id>/entries", methods=["POST"])
@role_required("admin")
def entry(user_id: int):
    """Post a top-up, refund or adjustment."""
    user = resellers.get_reseller(user_id) or abort(404)
    form = EntryForm()
    posted = submit(form, lambda: resellers.post_manual(user, form.kind.data, form.amount.data, form.memo.data, current_user),
                    field="amount")
    if posted is not None:
        flash(f"{posted.kind.value.capitalize()} of {money(posted.amount)} posted; balance {money(posted.balance_after)}.",
              "success")
        return redirect(url_for("resellers.detail", user_id=user.id))
    plans_form = _plan_choices(PlansForm(data={"plan_ids": sorted(resellers.allowed_plan_ids(user.id))}))
    return _account_page(user, status=422, entry_form=form, plans_form=plans_form, sell_form=_sell_form(user))


@bp.route("/<int:user_id>/plans", methods=["POST"])
@role_required("admin")
def plans(user_id: int):
    """Replace the plans a reseller may sell."""
    user = resellers.get_reseller(user_id) or abort(404)
    form = _plan_choices(PlansForm())
    if submit(form, lambda: resellers.set_plans(user, form.plan_ids.data or [], current_user)) is not None:
        flash("Allowed plans saved.", "success")
    return redirect(url_for("resellers.detail", user_id=user.id))


@bp.route("/<int:user_id>/selling", methods=["POST"])
@role_required("admin")
def selling(user_id: int):
    """Allow or stop a reseller signing up customers and taking their payments."""
    user = resellers.get_reseller(user_id) or abort(404)
    form = SellServicesForm()
    changed = submit(form, lambda: resellers.set_can_sell_services(user, form.can_sell_services.data, current_user))
    if changed is not None:
        flash(("Allowed to sign up customers and take payments." if user.can_sell_services else
               "No longer signs up customers or takes payments.") if changed else "Nothing changed.", "success")
    return redirect(url_for("resellers.detail", user_id=user.id))


@bp.route("/me")
@role_required("reseller")
def mine():
    """A reseller's own balance, ledger and plans."""
    return _account_page(current_user)
