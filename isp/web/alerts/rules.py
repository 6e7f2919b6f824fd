"""Alert rules: every staff member sees them; only admins create, edit, enable/disable and delete."""
from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_login import current_user

from isp.extensions import db
from isp.models import AlertKind, AlertRule
from isp.services import alert_rules, routers
from isp.web.alerts import bp
from isp.web.alerts.forms import RuleForm, rule_form_class
from isp.web.auth.forms import EmptyForm
from isp.web.forms import submit
from isp.web.render import render
from isp.web.security import STAFF, role_required


@bp.route("/rules")
@role_required(*STAFF)
def rules():
    """The rules, what each watches, where it notifies."""
    return render("alerts/rules.html", rules=alert_rules.list_rules(), specs=alert_rules.SPECS,
                  labels=alert_rules.channel_labels(), routers={r.id: r.name for r in routers.by_name()},
                  button_form=EmptyForm())


HINTS = {"webhook": "The channel's URL (from the notification settings) is used.",
         "telegram": "A chat id or @channel; blank: the channel's default chat.",
         "email": "One address, or several separated by commas."}


def _form(rule: AlertRule | None) -> RuleForm:
    labels = alert_rules.channel_labels()
    form_class = rule_form_class(labels)
    form = form_class() if request.method == "POST" or rule is None else form_class.for_rule(rule)
    choices = list(labels.items())
    form.channels.choices = form.escalate_channels.choices = choices
    form.site.choices = [("", "—")] + [(s, s) for s in routers.sites()]
    form.router_id.choices = [("", "—")] + [(str(r.id), r.name) for r in routers.by_name()]
    return form


def _page(form: RuleForm, kind: AlertKind, rule: AlertRule | None):
    spec = alert_rules.SPECS[kind]
    where = " below" if kind is AlertKind.reseller_stock else " at"
    unit = f" ({spec.unit})" if spec.unit else ""
    form.warning.label.text, form.critical.label.text = f"Warning{where}{unit}", f"Critical{where}{unit}"
    return render("alerts/rule_form.html", form=form, rule=rule, kind=kind, spec=alert_rules.SPECS[kind],
                  router_kinds=alert_rules.ROUTER_KINDS, labels=alert_rules.channel_labels(), hints=HINTS,
                  status=422 if form.errors else 200)


@bp.route("/rules/new", methods=["GET", "POST"])
@role_required("admin")
def rule_create():
    """Pick a kind, then fill the form that fits it."""
    try:
        kind = AlertKind(request.args.get("kind", ""))
    except ValueError:
        return render("alerts/rule_kinds.html", specs=alert_rules.SPECS)
    form = _form(None)
    rule = submit(form, lambda: alert_rules.save_rule(current_user, None, kind, form.values()), field="name")
    if rule is not None:
        flash(f"Rule '{rule.name}' added.", "success")
        return redirect(url_for("alerts.rules"))
    return _page(form, kind, None)


@bp.route("/rules/<int:rule_id>/edit", methods=["GET", "POST"])
@role_required("admin")
def rule_edit(rule_id: int):
    """Edit a rule (its kind stays: a different kind is a new rule)."""
    rule = db.get_or_404(AlertRule, rule_id)
    form = _form(rule)
    if submit(form, lambda: alert_rules.save_rule(current_user, rule, rule.kind, form.values()), field="name") is not None:
        flash(f"Rule '{rule.name}' saved.", "success")
        return redirect(url_for("alerts.rules"))
    return _page(form, rule.kind, rule)


@bp.route("/rules/<int:rule_id>/enabled", methods=["POST"])
@role_required("admin")
def rule_enable(rule_id: int):
    """Turn a rule on or off."""
    rule = db.get_or_404(AlertRule, rule_id)
    enabled = request.form.get("enabled") == "1"
    if submit(EmptyForm(), lambda: alert_rules.set_enabled(current_user, rule, enabled)) is not None:
        flash(f"Rule '{rule.name}' {'enabled' if enabled else 'disabled'}.", "success")
    return redirect(url_for("alerts.rules"))


@bp.route("/rules/<int:rule_id>/delete", methods=["POST"])
@role_required("admin")
def rule_delete(rule_id: int):
    """Delete a rule and its alerts' history."""
    rule = db.get_or_404(AlertRule, rule_id)
    name = rule.name
    if submit(EmptyForm(), lambda: alert_rules.delete_rule(current_user, rule)) is not None:
        flash(f"Rule '{name}' deleted.", "success")
    return redirect(url_for("alerts.rules"))
