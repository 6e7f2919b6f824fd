"""Forms of the account blueprint."""
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length


class CodeForm(FlaskForm):
    """A current code from the authenticator app."""

    code = StringField("Code from the app", validators=[DataRequired(message="Type the code."), Length(max=32)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


class DisableForm(FlaskForm):
    """Turning two-factor login off needs the password and a code."""

    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])
    code = StringField("Code from the app or a recovery code",
                       validators=[DataRequired(message="Type the code."), Length(max=32)],
                       render_kw={"autocomplete": "one-time-code"})
