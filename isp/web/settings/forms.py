"""Forms of the settings blueprint."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, Field, RadioField, StringField, TextAreaField
from wtforms.validators import Length, ValidationError

from isp.models import Branding, Router
from isp.services import branding
from isp.services.errors import ServiceError

EXPIRY_CHOICES = [("remove", "Remove the user from the router"),
                  ("disable", "Disable the user on the router (kept, but cannot log in)")]


def _host(form: FlaskForm, field: Field) -> None:
    """Show every bad hotspot DNS name at once (the service checks again when saving)."""
    try:
        branding.check_host(field.data, field=field.name)
    except ServiceError as err:
        raise ValidationError(err.message) from None


class SettingsForm(FlaskForm):
    """Branding, expiry policy and logo; a `dns_<router id>` field per router is added by `settings_form`."""

    business_name = StringField("Business name", validators=[Length(max=120)])
    currency = StringField("Currency", validators=[Length(max=8, message="Currency: at most 8 characters.")],
                           render_kw={"maxlength": 8, "placeholder": "KES, $, €"})
    expiry_action = RadioField("When a voucher expires or is used up", choices=EXPIRY_CHOICES, default="remove")
    logo = FileField("Logo", render_kw={"accept": "image/png,image/jpeg,image/gif,image/webp"})
    remove_logo = BooleanField("Remove the current logo")

    router_ids: list[int] = []
    _logo: bytes | None = None

    def validate_logo(self, field: FileField) -> None:
        """Refuse a file that is too big or not a raster image, alongside the other fields' errors."""
        data = self.logo_bytes()
        if data:
            try:
                branding.check_logo(data)
            except ServiceError as err:
                raise ValidationError(err.message) from None

    def values(self) -> dict:
        """Name, currency and expiry action as the service expects them."""
        return {"business_name": self.business_name.data, "currency": self.currency.data,
                "expiry_action": self.expiry_action.data}

    def logo_bytes(self) -> bytes | None:
        """The uploaded file's bytes (one byte past the limit at most, so it can be refused); None if none."""
        upload = self.logo.data
        if self._logo is None and upload and getattr(upload, "filename", ""):
            self._logo = upload.read(branding.LOGO_MAX_BYTES + 1)
        return self._logo or None

    def dns_fields(self) -> list:
        """The hotspot DNS inputs, one per router, in router-name order."""
        return [self[f"dns_{router_id}"] for router_id in self.router_ids]

    def dns_values(self) -> dict[int, str]:
        """Router id -> submitted hotspot DNS name."""
        return {router_id: self[f"dns_{router_id}"].data or "" for router_id in self.router_ids}


def settings_form(current: Branding, routers: list[Router]) -> SettingsForm:
    """The settings form with one hotspot DNS input per router, filled from the stored values on GET."""

    class Form(SettingsForm):
        pass

    for router in routers:
        setattr(Form, f"dns_{router.id}", StringField(router.name, default=router.hotspot_dns,
                                                      validators=[Length(max=255), _host],
                                                      render_kw={"placeholder": "wifi.example.net", "spellcheck": "false",
                                                                 "autocomplete": "off"}))
    Form.router_ids = [router.id for router in routers]
    return Form(data={"business_name": current.business_name, "currency": current.currency,
                      "expiry_action": current.expiry_action or "remove"})


SUSPEND_CHOICES = [
    ("disable", "Disable: the PPP secret or hotspot user is disabled, a static IP is listed in isp-suspended, and live "
                "sessions are kicked. The subscriber cannot connect until they pay."),
    ("restrict", "Restrict: the subscriber is moved to the isp-suspended profile (static IPs to the isp-suspended address "
                 "list) and kicked so the change takes effect; they can still connect, and you redirect that profile or "
                 "list to a payment notice on the router."),
]


RADIUS_SUSPEND_CHOICES = [
    ("reject", "Reject: FreeRADIUS refuses the login (Auth-Type := Reject) and live sessions are disconnected."),
    ("walled-garden", "Walled garden: the login is accepted into the isp-suspended address list at a trickle "
                      "(redirect that list to a payment notice on the router); live sessions are disconnected."),
]
RADIUS_PLAN_CHANGE_CHOICES = [
    ("coa", "Change the speed of live sessions in place (CoA with the new Mikrotik-Rate-Limit)."),
    ("disconnect", "Disconnect live sessions; they dial in again on the new speed."),
]


class BillingSettingsForm(FlaskForm):
    """The Billing section: numbering, grace, suspension, reminders, agents' commission (checked by the service)."""

    account_prefix = StringField("Account number prefix", validators=[Length(max=16)], render_kw={"maxlength": 16})
    account_digits = StringField("Account number digits", validators=[Length(max=3)], render_kw={"inputmode": "numeric"})
    invoice_prefix = StringField("Invoice prefix", validators=[Length(max=16)], render_kw={"maxlength": 16})
    receipt_prefix = StringField("Receipt prefix", validators=[Length(max=16)], render_kw={"maxlength": 16})
    default_grace_days = StringField("Grace days", validators=[Length(max=3)], render_kw={"inputmode": "numeric"})
    suspend_mode = RadioField("When grace ends without payment", choices=SUSPEND_CHOICES, default="disable")
    reminder_days = StringField("Reminder days before expiry", validators=[Length(max=32)], render_kw={"placeholder": "3,1"})
    agent_commission_percent = StringField("Agent commission (%)", validators=[Length(max=8)],
                                           render_kw={"inputmode": "decimal", "placeholder": "0"})
    radius_suspend_action = RadioField("RADIUS routers: a suspended subscriber", choices=RADIUS_SUSPEND_CHOICES,
                                       default="reject")
    radius_plan_change_action = RadioField("RADIUS routers: a plan's speed changes", choices=RADIUS_PLAN_CHANGE_CHOICES,
                                           default="coa")

    def values(self) -> dict:
        """The submitted values as the service expects them."""
        return {name: self[name].data for name in ("account_prefix", "account_digits", "invoice_prefix", "receipt_prefix",
                                                   "default_grace_days", "suspend_mode", "reminder_days",
                                                   "agent_commission_percent", "radius_suspend_action",
                                                   "radius_plan_change_action")}


def billing_settings_form(current: Branding) -> BillingSettingsForm:
    """The Billing section filled from the stored settings (a POST fills it from the request instead)."""
    return BillingSettingsForm(data={
        "account_prefix": current.account_prefix, "account_digits": str(current.account_digits),
        "invoice_prefix": current.invoice_prefix, "receipt_prefix": current.receipt_prefix,
        "default_grace_days": str(current.default_grace_days), "suspend_mode": current.suspend_mode or "disable",
        "reminder_days": current.reminder_days, "agent_commission_percent": f"{current.agent_commission_percent or 0:g}",
        "radius_suspend_action": current.radius_suspend_action or "reject",
        "radius_plan_change_action": current.radius_plan_change_action or "coa"})


HUB_HINTS = {
    "hub_endpoint": "Where routers dial the hub: its public host name or IP and WireGuard port, e.g. vpn.example.net:51820.",
    "hub_public_key": "The hub interface's public key (wg pubkey), 44 characters ending in '='.",
    "hub_tunnel_address": "The hub's own address inside the range; routers reach the panel and RADIUS through it.",
    "tunnel_range": "Routers get addresses from this block, lowest free first (network, broadcast and the hub skipped).",
    "tunnel_reserved": "Addresses or blocks never handed out, comma-separated, e.g. 10.100.0.2, 10.100.9.0/24.",
    "radius_server_address": "FreeRADIUS as routers see it over the tunnel. Blank: the hub tunnel address.",
    "panel_address": "The only source allowed to the routers' API and api-ssl. Blank: the hub tunnel address.",
}


class HubSettingsForm(FlaskForm):
    """The WireGuard hub section: what every router's setup script points at (checked by the service)."""

    hub_endpoint = StringField("Hub endpoint (host:port)", validators=[Length(max=262)],
                               render_kw={"placeholder": "vpn.example.net:51820", "spellcheck": "false"})
    hub_public_key = StringField("Hub public key", validators=[Length(max=64)],
                                 render_kw={"spellcheck": "false", "autocomplete": "off"})
    hub_tunnel_address = StringField("Hub tunnel address", validators=[Length(max=45)], render_kw={"placeholder": "10.100.0.1"})
    tunnel_range = StringField("Tunnel range", validators=[Length(max=49)], render_kw={"placeholder": "10.100.0.0/16"})
    tunnel_reserved = StringField("Reserved addresses", validators=[Length(max=1000)])
    radius_server_address = StringField("RADIUS server address", validators=[Length(max=45)])
    panel_address = StringField("Panel address", validators=[Length(max=45)])
    hints = HUB_HINTS

    def values(self) -> dict:
        """The submitted values as the service expects them."""
        from isp.services.wireguard import HUB_FIELDS

        return {name: self[name].data for name in HUB_FIELDS}


def hub_settings_form(current: Branding) -> HubSettingsForm:
    """The WireGuard hub section filled from the stored settings (a POST fills it from the request instead)."""
    from isp.services.wireguard import HUB_FIELDS

    return HubSettingsForm(data={name: getattr(current, name) or "" for name in HUB_FIELDS})


class SecuritySettingsForm(FlaskForm):
    """The Security section: compulsory second factor, remembered devices, staff IP allow-lists (checked by the service)."""

    require_2fa_admin = BooleanField("Require two-factor login for admins")
    require_2fa_operator = BooleanField("Require two-factor login for operators")
    remember_device_days = StringField("Remember a device for (days)", validators=[Length(max=3)],
                                       render_kw={"inputmode": "numeric"})
    allow_cidrs_admin = TextAreaField("Admins may log in from", validators=[Length(max=20000)],
                                      render_kw={"rows": 3, "spellcheck": "false", "placeholder": "192.0.2.0/24, 2001:db8::/32"})
    allow_cidrs_operator = TextAreaField("Operators may log in from", validators=[Length(max=20000)],
                                         render_kw={"rows": 3, "spellcheck": "false"})
    allow_cidrs_reseller = TextAreaField("Resellers may log in from", validators=[Length(max=20000)],
                                         render_kw={"rows": 3, "spellcheck": "false"})

    def values(self) -> dict:
        """The submitted values as the service expects them."""
        from isp.services.security_settings import FIELDS

        return {name: self[name].data for name in FIELDS}


def security_settings_form(current: Branding, **kwargs: object) -> SecuritySettingsForm:
    """The Security section filled from the stored settings (a POST fills it from the request, unless formdata=None)."""
    from isp.services.security_settings import FIELDS

    data = {name: getattr(current, name) for name in FIELDS}
    data["remember_device_days"] = str(current.remember_device_days if current.remember_device_days is not None else 30)
    return SecuritySettingsForm(data=data, **kwargs)
