"""Forms of the reports blueprint."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import DateField, SelectField
from wtforms.validators import Optional, ValidationError

from isp.services.reports import GROUPS, MAX_DAYS

DEFAULT_DAYS = 30
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)


class LocalDateField(DateField):
    """A YYYY-MM-DD date in the operator's timezone, with a message naming the field."""

    def process_formdata(self, valuelist: list[str]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(f"{self.label.text}: enter a date as YYYY-MM-DD.") from None


class SalesForm(FlaskForm):
    """The sales report filter, read from the query string; blank dates mean the last 30 days."""

    class Meta:
        csrf = False  # a read-only GET filter

    start = LocalDateField("From", name="from", validators=[Optional()])
    end = LocalDateField("To", name="to", validators=[Optional()])
    group = SelectField("Group by", choices=list(GROUPS.items()), default="day", validate_choice=False)

    def __init__(self, formdata: MultiDict[str, str] | None, today: date) -> None:
        super().__init__(formdata)
        self.today = today

    def validate_group(self, field: SelectField) -> None:
        if field.data not in GROUPS:
            raise ValidationError("Group by day, plan, reseller or router.")

    def validate(self, extra_validators: Mapping[str, Sequence[Callable[..., object]]] | None = None) -> bool:
        """Fill blank dates, then check order, bounds and the length of the range."""
        if not super().validate(extra_validators):
            return False
        if self.end.data is None:
            self.end.data = self.today
        if self.start.data is None:
            self.start.data = self.end.data - timedelta(days=DEFAULT_DAYS - 1)
        start, end = self.start.data, self.end.data
        if not (EARLIEST <= start <= LATEST and EARLIEST <= end <= LATEST):
            self.start.errors.append(f"Dates must fall between {EARLIEST.isoformat()} and {LATEST.isoformat()}.")
        elif start > end:
            self.start.errors.append(f"'From' ({start.isoformat()}) must be on or before 'To' ({end.isoformat()}).")
        elif (end - start).days + 1 > MAX_DAYS:
            self.end.errors.append(f"The range covers {(end - start).days + 1} days; choose at most {MAX_DAYS}.")
        return not self.errors

    def messages(self) -> list[str]:
        """Every error, each once, in field order."""
        return list(dict.fromkeys(e for f in (self.start, self.end, self.group) for e in f.errors))

    def query(self, start: date | None = None, end: date | None = None) -> dict:
        """Query-string arguments of this filter, or of another range with the same grouping."""
        group = self.group.data if self.group.data in GROUPS else "day"
        return {"from": (start or self.start.data).isoformat(), "to": (end or self.end.data).isoformat(), "group": group}


def presets(today: date) -> list[tuple[str, date, date]]:
    """Quick ranges: (label, from, to)."""
    first = today.replace(day=1)
    last_month_end = first - timedelta(days=1)
    return [("Today", today, today), ("Last 7 days", today - timedelta(days=6), today),
            ("Last 30 days", today - timedelta(days=DEFAULT_DAYS - 1), today), ("This month", first, today),
            ("Last month", last_month_end.replace(day=1), last_month_end)]
