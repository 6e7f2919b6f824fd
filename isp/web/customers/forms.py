"""Forms of the customers blueprint; the services check and normalise the values (phones, IPs, MACs, notation)."""
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from isp.models import Customer, ServicePlan, Subscription
from isp.web.plans.forms import MultiCheckboxField, exact_size

CUSTOMER_FIELDS = ("name", "phone", "phone2", "email", "address", "national_id", "location", "tags", "notes")


class CustomerForm(FlaskForm):
    """A customer's contact details; staff may also pick the reseller who owns the account."""

    name = StringField("Full name", render_kw={"maxlength": 120, "autocomplete": "off"})
    phone = StringField("Phone", render_kw={"inputmode": "tel", "placeholder": "+254 712 345 678", "maxlength": 32})
    phone2 = StringField("Second phone", render_kw={"inputmode": "tel", "maxlength": 32})
    email = StringField("Email", render_kw={"inputmode": "email", "maxlength": 254, "autocomplete": "off"})
    address = StringField("Address", render_kw={"maxlength": 255})
    national_id = StringField("National ID", render_kw={"maxlength": 64, "autocomplete": "off"})
    location = StringField("Location", render_kw={"maxlength": 255,
                                                  "placeholder": "-1.2921,36.8219 or 'blue gate behind the school'"})
    tags = StringField("Tags", render_kw={"maxlength": 255, "placeholder": "vip, fiber"})
    notes = TextAreaField("Notes", render_kw={"rows": 3, "maxlength": 4000})
    reseller_id = SelectField("Owner", coerce=int, validate_choice=False, default=0)

    def values(self) -> dict:
        """Submitted values for the service."""
        data = {name: getattr(self, name).data for name in CUSTOMER_FIELDS}
        if "reseller_id" in self:  # staff only; a reseller's customers are always theirs
            data["reseller_id"] = self.reseller_id.data or None
        return data

    @classmethod
    def for_customer(cls, customer: Customer) -> "CustomerForm":
        """A form filled from a stored customer."""
        data = {name: getattr(customer, name) for name in CUSTOMER_FIELDS}
        data["tags"] = ", ".join(customer.tag_list)
        return cls(data={**data, "reseller_id": customer.reseller_id or 0})


class NoteForm(FlaskForm):
    """A note on the customer's timeline."""

    text = TextAreaField("Add a note", validators=[Length(max=4000, message="A note is at most 4,000 characters.")],
                         render_kw={"rows": 2, "placeholder": "Called about slow speeds; router rebooted.", "maxlength": 4000})


STATUS_CHOICES = [("active", "Active"), ("suspended", "Suspended"), ("closed", "Closed")]


class StatusForm(FlaskForm):
    """Mark the account active, suspended or closed."""

    status = SelectField("Account status", choices=STATUS_CHOICES)
    reason = StringField("Reason", render_kw={"maxlength": 200, "placeholder": "optional"})


class ServiceForm(FlaskForm):
    """A new service; kind, profile and price come from the plan."""

    plan_id = SelectField("Plan", coerce=int, validate_choice=False)
    router_id = SelectField("Router", coerce=int, validate_choice=False)
    username = StringField("Username", render_kw={"autocomplete": "off", "spellcheck": "false", "maxlength": 64,
                                                  "autocapitalize": "none"})
    password = PasswordField("Password", render_kw={"autocomplete": "new-password",
                                                    "placeholder": "blank: generate a strong one"})
    static_ip = StringField("Static IP", render_kw={"inputmode": "decimal", "placeholder": "10.20.0.15", "spellcheck": "false"})
    caller_id = StringField("MAC / caller-id lock", render_kw={"placeholder": "optional, AA:BB:CC:DD:EE:FF",
                                                               "spellcheck": "false"})
    grace_days = StringField("Grace days", render_kw={"inputmode": "numeric", "placeholder": "blank: the plan's"})
    auto_renew = BooleanField("Renew automatically from the balance", default=True)

    FIELDS = ("plan_id", "router_id", "username", "password", "static_ip", "caller_id", "grace_days", "auto_renew")

    def __init__(self, *args: object, **kwargs: object) -> None:
        """The form; a reseller gets no grace days (staff only: days of service nobody pays for)."""
        super().__init__(*args, **kwargs)
        if current_user and current_user.is_authenticated and current_user.has_role("reseller"):
            del self.grace_days

    def values(self) -> dict:
        """Submitted values for the service."""
        return {name: getattr(self, name).data for name in self.FIELDS if name in self}


class ServiceEditForm(ServiceForm):
    """Edit a service: everything but the plan (a plan change is billed, on the billing pages)."""

    plan_id = None
    password = PasswordField("New password", render_kw={"autocomplete": "new-password",
                                                        "placeholder": "blank: keep the current one"})

    @classmethod
    def for_subscription(cls, sub: Subscription) -> "ServiceEditForm":
        """A form filled from a stored service (never its password)."""
        return cls(data={"router_id": sub.router_id, "username": sub.username, "static_ip": sub.static_ip or "",
                         "caller_id": sub.caller_id, "auto_renew": sub.auto_renew,
                         "grace_days": "" if sub.grace_days is None else str(sub.grace_days)})


ACTION_CHOICES = [("suspend", "Suspend"), ("reactivate", "Reactivate"), ("terminate", "Terminate")]


class StateForm(FlaskForm):
    """Suspend, reactivate or terminate a service by hand; the reason goes on the timeline."""

    action = SelectField("Action", choices=ACTION_CHOICES)
    reason = StringField("Reason", render_kw={"maxlength": 200, "placeholder": "e.g. customer asked, moving house"})


KIND_CHOICES = [("pppoe", "PPPoE"), ("hotspot", "Hotspot"), ("static", "Static IP")]
PERIOD_CHOICES = [("month", "months"), ("day", "days")]
PLAN_FIELDS = ("name", "kind", "price", "period_unit", "period_count", "rate_limit", "data_cap", "fup_rate_limit",
               "shared_users", "address_pool", "grace_days", "active")


class ServicePlanForm(FlaskForm):
    """A subscription product."""

    name = StringField("Name", render_kw={"maxlength": 64})
    kind = SelectField("Kind", choices=KIND_CHOICES)
    price = StringField("Price per period", render_kw={"inputmode": "decimal", "placeholder": "25.00"})
    period_count = StringField("Every", default="1", render_kw={"inputmode": "numeric"})
    period_unit = SelectField("Period", choices=PERIOD_CHOICES, default="month")
    rate_limit = StringField("Rate limit", render_kw={"placeholder": "5M/10M", "spellcheck": "false"})
    data_cap = StringField("Data cap per period", render_kw={"placeholder": "none, or e.g. 100G"})
    fup_rate_limit = StringField("Speed after the cap (FUP)", render_kw={"placeholder": "512k/1M", "spellcheck": "false"})
    shared_users = StringField("Shared users", default="1", render_kw={"inputmode": "numeric"})
    address_pool = StringField("Address pool", render_kw={"placeholder": "router default", "spellcheck": "false"})
    grace_days = StringField("Grace days", render_kw={"inputmode": "numeric", "placeholder": "blank: the Settings default"})
    router_ids = MultiCheckboxField("Sold on routers", coerce=int, validate_choice=False)
    active = BooleanField("Active (can be sold)", default=True)

    def values(self) -> dict:
        """Submitted values for the service."""
        data = {name: getattr(self, name).data for name in PLAN_FIELDS}
        data["router_ids"] = self.router_ids.data or []
        return data

    @classmethod
    def for_plan(cls, plan: ServicePlan) -> "ServicePlanForm":
        """A form filled from a stored plan, in the operator's notation."""
        return cls(data={
            "name": plan.name, "kind": plan.kind.value, "price": f"{plan.price:.2f}", "period_unit": plan.period_unit.value,
            "period_count": str(plan.period_count), "rate_limit": plan.rate_limit,
            "data_cap": exact_size(plan.data_cap_bytes) if plan.data_cap_bytes else "", "fup_rate_limit": plan.fup_rate_limit,
            "shared_users": str(plan.shared_users), "address_pool": plan.address_pool,
            "grace_days": "" if plan.grace_days is None else str(plan.grace_days), "active": plan.active,
            "router_ids": [r.id for r in plan.routers]})

