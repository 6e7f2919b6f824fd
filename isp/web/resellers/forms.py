"""Forms of the resellers blueprint."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from isp.web.plans.forms import MultiCheckboxField

SELL_LABEL = "May sign up customers and take payments"


class ResellerForm(FlaskForm):
    """A new reseller login."""

    username = StringField("Username", validators=[DataRequired(), Length(min=3, max=64)])
    full_name = StringField("Name or shop", validators=[Optional(), Length(max=120)])
    password = PasswordField("Password", validators=[DataRequired()])
    confirm = PasswordField("Repeat password", validators=[DataRequired(), EqualTo("password", "Passwords do not match.")])
    plan_ids = MultiCheckboxField("Plans they may sell", coerce=int, validate_choice=False)
    can_sell_services = BooleanField(SELL_LABEL)


class SellServicesForm(FlaskForm):
    """Whether a reseller may sign up customers and take their payments."""

    can_sell_services = BooleanField(SELL_LABEL)


class PlansForm(FlaskForm):
    """The plans a reseller may sell."""

    plan_ids = MultiCheckboxField("Plans they may sell", coerce=int, validate_choice=False)


class EntryForm(FlaskForm):
    """Money in or out of a reseller's account."""

    kind = SelectField("Kind", choices=[("topup", "Top-up (money received)"), ("refund", "Refund (credit)"),
                                        ("adjustment", "Adjustment (+ or −)")])
    amount = StringField("Amount", render_kw={"inputmode": "decimal", "placeholder": "50.00"})
    memo = StringField("Memo", validators=[Optional(), Length(max=200)], render_kw={"placeholder": "e.g. cash, receipt 1042"})
