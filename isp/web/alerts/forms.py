"""Forms of the alert centre; the services validate the values and name the field at fault."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Length
from wtforms.widgets import CheckboxInput, ListWidget

from isp.models import AlertRule
from isp.services import alert_rules


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class NoteForm(FlaskForm):
    """Acknowledge or resolve an alert, with a note for the team."""

    note = TextAreaField("Note", validators=[Length(max=2000)],
                         render_kw={"rows": 2, "placeholder": "What you are doing about it"})


class RuleForm(FlaskForm):
    """An alert rule; the kind decides which fields show (see alert_rules.SPECS)."""

    name = StringField("Name")
    metric = SelectField("Metric", choices=[(k, v[0]) for k, v in alert_rules.METRICS.items()], validate_choice=False)
    below = BooleanField("Fires below the thresholds (e.g. voltage)")
    warning = StringField("Warning", render_kw={"inputmode": "decimal"})
    critical = StringField("Critical", render_kw={"inputmode": "decimal"})
    hysteresis = StringField("Hysteresis", render_kw={"inputmode": "decimal", "placeholder": "0"})
    for_seconds = StringField("For (seconds)", render_kw={"inputmode": "numeric", "placeholder": "0"})
    seconds = StringField("Offline after (seconds)", render_kw={"inputmode": "numeric"})
    count = StringField("Link downs", render_kw={"inputmode": "numeric"})
    window = StringField("Within (seconds)", render_kw={"inputmode": "numeric"})
    min_bps = StringField("Minimum rate", render_kw={"placeholder": "1M"})
    scope = SelectField("Applies to", choices=[("all", "All routers"), ("site", "A site"), ("router", "One router")],
                        validate_choice=False)
    site = SelectField("Site", choices=[], validate_choice=False)
    router_id = SelectField("Router", choices=[], validate_choice=False)
    channels = MultiCheckboxField("Notify", choices=[], validate_choice=False)
    escalate_after_minutes = StringField("Escalate after (minutes unacknowledged)", render_kw={"inputmode": "numeric"})
    escalate_channels = MultiCheckboxField("Escalate to", choices=[], validate_choice=False)
    notify_recovery = BooleanField("Send a recovery notice when it clears", default=True)
    enabled = BooleanField("Enabled", default=True)

    def values(self) -> dict:
        """Submitted values for the service (recipients come from one text input per channel)."""
        data = {name: field.data for name, field in self._fields.items()
                if name != "csrf_token" and not name.startswith("recipient_")}
        data["recipients"] = {name[len("recipient_"):]: field.data for name, field in self._fields.items()
                              if name.startswith("recipient_")}
        return data

    @classmethod
    def for_rule(cls, rule: AlertRule) -> RuleForm:
        """A form filled from a stored rule."""
        params = rule.params

        def text(value: float | None) -> str:
            return "" if value is None else f"{value:g}"

        data = {"name": rule.name, "metric": rule.metric or "cpu", "below": rule.below, "warning": text(rule.warning),
                "critical": text(rule.critical), "hysteresis": text(rule.hysteresis), "for_seconds": str(rule.for_seconds),
                "seconds": str(params.get("seconds", "")), "count": text(rule.warning), "window": str(params.get("window", "")),
                "min_bps": str(params.get("min_bps", "")), "scope": rule.scope.value, "site": rule.site,
                "router_id": str(rule.router_id or ""), "channels": rule.channel_list,
                "escalate_after_minutes": str(rule.escalate_after_minutes or ""),
                "escalate_channels": [c for c in rule.escalate_channels.split(",") if c],
                "notify_recovery": rule.notify_recovery, "enabled": rule.enabled}
        data.update({f"recipient_{name}": value for name, value in rule.recipients.items()})
        return cls(data=data)


def rule_form_class(labels: dict[str, str]) -> type[RuleForm]:
    """RuleForm with one recipient input per channel the registry holds now (channels are added without a form change)."""
    form_class = type("RuleChannelsForm", (RuleForm,), {})
    for name, label in labels.items():
        setattr(form_class, f"recipient_{name}", StringField(f"{label} recipient", render_kw={"autocomplete": "off"}))
    return form_class


class WindowForm(FlaskForm):
    """A maintenance window, its times in the operator's timezone."""

    target = SelectField("Silence", choices=[("router", "A router"), ("site", "A site")], validate_choice=False)
    router_id = SelectField("Router", choices=[], validate_choice=False)
    site = SelectField("Site", choices=[], validate_choice=False)
    starts = StringField("Starts", render_kw={"type": "datetime-local"})
    ends = StringField("Ends", render_kw={"type": "datetime-local"})
    reason = StringField("Reason", render_kw={"maxlength": 255, "placeholder": "Replacing the uplink radio"})

    def values(self) -> dict:
        """Submitted values for the service."""
        return {name: field.data for name, field in self._fields.items() if name != "csrf_token"}
