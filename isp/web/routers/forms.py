"""Forms of the routers blueprint."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from isp.models import Router, RouterMode

MODE_CHOICES = [(RouterMode.api.value, "API (users on the router)"), (RouterMode.radius.value, "RADIUS (users in FreeRADIUS)")]
SERVICE_FIELDS = ("name", "addresses", "api_port", "use_tls", "verify_tls", "username", "password", "mode",
                  "site", "notes", "enabled", "max_sessions", "radius_incoming_port", "parent_id")


class RouterForm(FlaskForm):
    """A router's connection and role; the service validates the values."""

    name = StringField("Name")
    addresses = TextAreaField("Management addresses",
                              render_kw={"rows": 3, "spellcheck": "false", "placeholder": "10.100.0.2\n192.168.88.1"})
    api_port = IntegerField("API port", validators=[Optional()], default=8728, render_kw={"inputmode": "numeric"})
    use_tls = BooleanField("Use TLS (api-ssl)")
    verify_tls = BooleanField("Verify the router's certificate")
    username = StringField("API username", default="isp-panel", render_kw={"autocomplete": "off"})
    password = PasswordField("API password", render_kw={"autocomplete": "new-password"})
    mode = SelectField("Mode", choices=MODE_CHOICES, default=RouterMode.api.value)
    site = StringField("Site")
    parent_id = SelectField("Parent router", coerce=int, default=0, choices=[(0, "None (top of the tree)")])
    notes = TextAreaField("Notes", render_kw={"rows": 3})
    enabled = BooleanField("Enabled", default=True)
    max_sessions = IntegerField("Max API sessions", validators=[Optional()], default=20, render_kw={"inputmode": "numeric"})
    radius_incoming_port = IntegerField("RADIUS incoming port", validators=[Optional()], default=3799,
                                        render_kw={"inputmode": "numeric"})

    def values(self) -> dict:
        """The submitted values as the service expects them; a blank port means the default for TLS or not."""
        data = {name: getattr(self, name).data for name in SERVICE_FIELDS}
        if data["api_port"] is None:
            data["api_port"] = 8729 if data["use_tls"] else 8728
        if data["max_sessions"] is None:
            data["max_sessions"] = 20
        if data["radius_incoming_port"] is None:
            data["radius_incoming_port"] = 3799
        data["parent_id"] = data["parent_id"] or None
        return data

    def offer_parents(self, routers: list[Router], router: Router | None) -> RouterForm:
        """Fill the parent picker with every other router (the service refuses loops)."""
        self.parent_id.choices = [(0, "None (top of the tree)")] + [(r.id, r.name) for r in routers
                                                                     if router is None or r.id != router.id]
        return self

    @classmethod
    def for_router(cls, router: Router) -> RouterForm:
        """A form filled from a stored router (never its password)."""
        data = {name: getattr(router, name) for name in SERVICE_FIELDS if name not in ("addresses", "password", "mode")}
        return cls(data={**data, "addresses": router.addresses_text, "mode": router.mode.value,
                         "parent_id": router.parent_id or 0})


class DeleteForm(FlaskForm):
    """Delete a router; only an admin's force overrides the service's refusal."""

    confirm = BooleanField("I understand this router and its command history are deleted")
    force = BooleanField("Force: delete even with unfinished commands (admin)")


class OnboardForm(FlaskForm):
    """Onboard a router added before onboarding existed (allocates its tunnel address, keys and secret)."""

    generate_login = BooleanField("Generate a least-privilege API login (isp-panel) for the setup script", default=True)


class InterfaceForm(FlaskForm):
    """Disable or enable one interface (the button carries which and what)."""

    iface_id = IntegerField(validators=[DataRequired()])
    action = SelectField(choices=[("disable", "Disable"), ("enable", "Enable")])


class KickForm(FlaskForm):
    """Disconnect one user online on the router (the button carries the username)."""

    username = HiddenField(validators=[DataRequired(), Length(max=64)])
