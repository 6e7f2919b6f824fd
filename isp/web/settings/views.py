"""Views for the operator settings page (admin) and the logo that print pages show (every role)."""
from __future__ import annotations

from flask import Response, abort, flash, make_response, redirect, request, url_for
from flask_login import current_user

from isp.services import branding, security_settings, wireguard
from isp.web.forms import submit
from isp.web.render import render
from isp.web.security import ALL_ROLES, role_required
from isp.web.settings import bp
from isp.web.settings.forms import billing_settings_form, hub_settings_form, security_settings_form, settings_form


@bp.route("/", methods=["GET", "POST"])
@role_required("admin")
def index():
    """Business name, currency, expiry policy, logo and each router's hotspot DNS name."""
    current, routers = branding.get(), branding.routers()
    form = settings_form(current, routers)
    if submit(form, lambda: branding.save(current_user, form.values(), form.logo_bytes(), bool(form.remove_logo.data),
                                          form.dns_values()), field="business_name") is not None:
        flash("Settings saved.", "success")
        return redirect(url_for("settings.index"))
    return _page(form=form, status=422 if form.errors else 200)


@bp.route("/billing", methods=["POST"])
@role_required("admin")
def billing():
    """Save the Billing section: numbering prefixes, grace days, suspension mode, reminder days, agent commission."""
    current = branding.get()
    form = billing_settings_form(current)
    if submit(form, lambda: branding.save_billing(current_user, form.values()), field="account_prefix") is not None:
        flash("Billing settings saved.", "success")
        return redirect(url_for("settings.index", _anchor="billing"))
    return _page(billing_form=form, status=422)


@bp.route("/hub", methods=["POST"])
@role_required("admin")
def hub():
    """Save the WireGuard hub section: endpoint, public key, tunnel range and reserved addresses, RADIUS and panel addresses."""
    current = branding.get()
    form = hub_settings_form(current)
    if submit(form, lambda: wireguard.save_hub(current_user, form.values()), field="hub_endpoint") is not None:
        flash("WireGuard hub settings saved.", "success")
        return redirect(url_for("settings.index", _anchor="hub"))
    return _page(hub_form=form, status=422)


@bp.route("/security", methods=["POST"])
@role_required("admin")
def security():
    """Save the Security section: compulsory 2FA, remembered-device days, staff IP allow-lists (no self-lockout)."""
    current = branding.get()
    form = security_settings_form(current)
    if submit(form, lambda: security_settings.save(current_user, form.values(), request.remote_addr or ""),
              field="allow_cidrs_admin") is not None:
        flash("Security settings saved.", "success")
        return redirect(url_for("settings.index", _anchor="security"))
    return _page(security_form=form, status=422)


def _page(status: int = 200, **forms: object) -> Response:
    """The settings page with each section's form: the one given (with its errors) or a fresh one."""
    current = branding.get()  # again: a refused save rolled back a settings row created on this request
    if "form" not in forms:
        forms["form"] = settings_form(current, branding.routers())
    if "billing_form" not in forms:
        forms["billing_form"] = billing_settings_form(current)
    if "hub_form" not in forms:
        forms["hub_form"] = hub_settings_form(current)
    if "security_form" not in forms:
        # Stored values, not another section's POST: an unticked box there must not read as "off" here.
        forms["security_form"] = security_settings_form(current, formdata=None)
    return render("settings/index.html", branding=current, logo_version=branding.logo_version(current),
                  your_ip=request.remote_addr or "", status=status, **forms)


@bp.route("/logo")
@role_required(*ALL_ROLES)
def logo():
    """The uploaded logo with the type its bytes show (resellers print it too); 404 when there is none."""
    current = branding.get()
    mime = branding.logo_type(current.logo or b"")
    if mime is None:  # none, or a stored file that is not a raster image (never served as what it claims)
        abort(404)
    response = make_response(current.logo)
    response.mimetype = mime
    response.set_etag(branding.logo_version(current))
    response.cache_control.private = True
    response.cache_control.max_age = 300
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = f'inline; filename="logo.{branding.LOGO_EXTENSIONS[mime]}"'
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response.make_conditional(request)
