"""The token form: a name, scopes the user's role allows, and an expiry; the service checks the values again."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, SelectMultipleField, StringField
from wtforms.validators import Optional
from wtforms.widgets import CheckboxInput, ListWidget

from isp.services.api_tokens import MAX_LIFETIME, MAX_NAME, SCOPES

EXPIRY_CHOICES = [("never", "Never"), ("30", "In 30 days"), ("90", "In 90 days"), ("365", "In 365 days"),
                  ("date", "On a date")]
SCOPE_HINTS = {
    "read": "read everything you can see",
    "vouchers": "generate and disable vouchers",
    "customers": "customers, subscriptions and payments",
    "routers": "routers and alerts",
    "admin": "everything, including settings",
}


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class TokenForm(FlaskForm):
    """A new API token."""

    name = StringField("Name", render_kw={"maxlength": MAX_NAME, "placeholder": "e.g. billing export",
                                          "autocomplete": "off"})
    scopes = MultiCheckboxField("Scopes", default=["read"], validate_choice=False)  # the service names a refused scope
    expires = SelectField("Expires", choices=EXPIRY_CHOICES, default="90")
    expires_on = DateField("Expiry date", validators=[Optional()])

    def __init__(self, allowed: set[str], *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.scopes.choices = [(s, f"{s} ({SCOPE_HINTS[s]})") for s in SCOPES if s in allowed]

    def validate(self, extra_validators: Mapping[str, Sequence[Callable[..., object]]] | None = None) -> bool:
        """The date is needed only for 'On a date' (Optional() would skip an inline check on a blank field)."""
        ok = super().validate(extra_validators)
        if self.expires.data == "date" and self.expires_on.data is None and not self.expires_on.errors:
            self.expires_on.errors.append("Pick the day the token stops working (YYYY-MM-DD).")
            ok = False
        elif self.expires.data == "date" and isinstance(self.expires_on.data, date) \
                and self.expires_on.data > date.today() + MAX_LIFETIME:
            # Refused before any date arithmetic (9999-12-31 + 1 day overflows), with the service's own wording.
            self.expires_on.errors.append("A token can last at most 2 years; choose an earlier expiry or none.")
            ok = False
        return ok

    def expires_at(self, now: datetime) -> datetime | None:
        """The chosen expiry as aware UTC: N days from now, or the end of the chosen day in the operator's timezone."""
        choice = self.expires.data
        if choice == "date" and isinstance(self.expires_on.data, date):
            zone = ZoneInfo(current_app.config["ISP_TIMEZONE"])
            return datetime.combine(self.expires_on.data + timedelta(days=1), time(), zone).astimezone(now.tzinfo)
        if choice in ("30", "90", "365"):
            return now + timedelta(days=int(choice))
        return None
