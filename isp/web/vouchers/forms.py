"""Forms of the vouchers blueprint."""
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError


def ascii_digits(form: FlaskForm, field: IntegerField) -> None:
    """Refuse digits of other scripts (int() reads '١٠' as 10): a count is typed with 0-9 only."""
    raw = (field.raw_data or [""])[0].strip().lstrip("+-")
    if raw and not (raw.isascii() and raw.isdigit()):
        raise ValidationError("Use the digits 0-9.")


MODE_CHOICES = [("code", "Code only (username = password)"), ("userpass", "Username and password")]


class GenerateForm(FlaskForm):
    """A batch request; the service checks counts, lengths, plan rights and the reseller's balance."""

    plan_id = SelectField("Plan", coerce=int)
    router_id = SelectField("Router", coerce=int)
    count = IntegerField("How many", default=100, validators=[Optional(), ascii_digits],
                         render_kw={"inputmode": "numeric", "min": 1, "max": 10000})
    mode = SelectField("Login", choices=MODE_CHOICES, default="code")
    prefix = StringField("Prefix", render_kw={"placeholder": "optional, e.g. HS", "maxlength": 8, "autocomplete": "off"})
    length = IntegerField("Code length", default=8, validators=[Optional(), ascii_digits],
                          render_kw={"inputmode": "numeric", "min": 4, "max": 16})
    note = StringField("Note", validators=[Length(max=200, message="A note is at most 200 characters.")],
                       render_kw={"placeholder": "e.g. Shop on Main Street, March", "maxlength": 200})


ACTION_CHOICES = [("disable", "Disable"), ("enable", "Enable"), ("delete", "Delete (also from the router)"),
                  ("extend", "Extend validity by…")]


class BulkForm(FlaskForm):
    """An action on selected vouchers or on a whole batch."""

    action = SelectField("Action", choices=ACTION_CHOICES)
    extend = StringField("Extend by", render_kw={"placeholder": "e.g. 1d", "size": 6})
