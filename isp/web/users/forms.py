"""Forms of the users blueprint."""
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from isp.models import Role

ROLE_CHOICES = [(r.value, r.label) for r in Role]


class UserCreateForm(FlaskForm):
    """A new account."""

    username = StringField("Username", validators=[DataRequired(), Length(min=3, max=64)])
    full_name = StringField("Full name", validators=[Optional(), Length(max=120)])
    role = SelectField("Role", choices=ROLE_CHOICES, default="operator")
    password = PasswordField("Password", validators=[DataRequired()])
    confirm = PasswordField("Repeat password", validators=[DataRequired(), EqualTo("password", "Passwords do not match.")])


class RoleForm(FlaskForm):
    """Change the role."""

    role = SelectField("Role", choices=ROLE_CHOICES)


class PasswordResetForm(FlaskForm):
    """Set a new password."""

    password = PasswordField("New password", validators=[DataRequired()])
    confirm = PasswordField("Repeat password", validators=[DataRequired(), EqualTo("password", "Passwords do not match.")])
