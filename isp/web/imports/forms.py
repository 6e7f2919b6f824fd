"""Forms of the imports blueprint."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


class UploadForm(FlaskForm):
    """A CSV file for the dry run, a router for lines that name none, and name mappings for other panels' exports."""

    file = FileField("CSV file", validators=[FileRequired("Choose a CSV file.")],
                     render_kw={"accept": ".csv,text/csv,text/plain"})
    router = SelectField("Router for lines that name none", choices=[], validate_choice=True)
    plan_map = TextAreaField("Plan names from the other panel", validators=[Optional(), Length(max=5000)],
                             render_kw={"rows": 3, "placeholder": "PPPoE 10 Mbps = Home 10M"})
    router_map = TextAreaField("Router names from the other panel", validators=[Optional(), Length(max=5000)],
                               render_kw={"rows": 2, "placeholder": "Mikrotik-Main = core-1"})


class ConfirmForm(FlaskForm):
    """The confirmation of a clean dry run: only the server-side token of the checked file."""

    token = HiddenField(validators=[DataRequired()])


class PasswordExportForm(FlaskForm):
    """An admin's explicit choice to download the services with their passwords."""

    understood = BooleanField("I understand this file holds every subscriber's password in clear text",
                              validators=[DataRequired("Tick the box to confirm.")])
