"""Forms of the auth blueprint."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    """Username and password."""

    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


class SecondFactorForm(FlaskForm):
    """A code from the authenticator app, or a recovery code."""

    code = StringField("Code", validators=[DataRequired(message="Type the code."), Length(max=32)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "text", "spellcheck": "false"})
    remember = BooleanField("Remember this device")


class EnrolForm(FlaskForm):
    """The first code from a newly added authenticator."""

    code = StringField("Code from the app", validators=[DataRequired(message="Type the code."), Length(max=32)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


class EmptyForm(FlaskForm):
    """CSRF protection for button-only POSTs."""
