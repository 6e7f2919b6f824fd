"""Forms of the plans blueprint; the service validates the notation (durations, sizes, rate limits)."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectMultipleField, StringField
from wtforms.validators import Optional
from wtforms.widgets import CheckboxInput, ListWidget

from isp.models import HotspotPlan
from isp.units import format_duration

FIELDS = ("name", "price", "reseller_price", "validity", "time_quota", "data_quota", "rate_limit", "shared_users", "active")


def exact_size(count: int) -> str:
    """Bytes in the largest unit that divides them exactly (a form round trip never changes the quota)."""
    for unit, size in (("G", 1024 ** 3), ("M", 1024 ** 2), ("k", 1024)):
        if count % size == 0:
            return f"{count // size}{unit}"
    return str(count)


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class PlanForm(FlaskForm):
    """A hotspot plan."""

    name = StringField("Name")
    price = StringField("Price", render_kw={"inputmode": "decimal", "placeholder": "10.00"})
    reseller_price = StringField("Reseller price", render_kw={"inputmode": "decimal", "placeholder": "same as price"})
    validity = StringField("Validity from first login", render_kw={"placeholder": "1d"})
    time_quota = StringField("Time quota (uptime limit)", render_kw={"placeholder": "none"})
    data_quota = StringField("Data quota", render_kw={"placeholder": "none, or e.g. 2G"})
    rate_limit = StringField("Rate limit", render_kw={"placeholder": "2M/4M", "spellcheck": "false"})
    shared_users = IntegerField("Shared users", default=1, validators=[Optional()], render_kw={"inputmode": "numeric"})
    router_ids = MultiCheckboxField("Sold on routers", coerce=int, validate_choice=False)
    active = BooleanField("Active (can be sold)", default=True)

    def values(self) -> dict:
        """Submitted values for the service."""
        data = {name: getattr(self, name).data for name in FIELDS}
        data["router_ids"] = self.router_ids.data or []
        if data["shared_users"] is None:
            data["shared_users"] = 1
        return data

    @classmethod
    def for_plan(cls, plan: HotspotPlan) -> "PlanForm":
        """A form filled from a stored plan, in the operator's notation."""
        return cls(data={
            "name": plan.name, "price": f"{plan.price:.2f}", "reseller_price": f"{plan.reseller_price:.2f}",
            "validity": format_duration(plan.validity_seconds),
            "time_quota": format_duration(plan.time_quota_seconds) if plan.time_quota_seconds else "",
            "data_quota": exact_size(plan.data_quota_bytes) if plan.data_quota_bytes else "",
            "rate_limit": plan.rate_limit, "shared_users": plan.shared_users, "active": plan.active,
            "router_ids": [r.id for r in plan.routers]})
