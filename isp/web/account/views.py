"""A user's own security: two-factor login (set up, recovery codes, turn off), remembered devices, sessions."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import flash, redirect, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from isp.models import User
from isp.services import twofactor, user_sessions
from isp.web.account import bp
from isp.web.account.forms import CodeForm, DisableForm
from isp.web.auth import sessions, throttle
from isp.web.auth.qr import qr_svg
from isp.web.forms import submit
from isp.web.render import render
from isp.web.security import ALL_ROLES, role_required

T = TypeVar("T")


def _me() -> User:
    return current_user._get_current_object()  # type: ignore[attr-defined]


def _throttled(user: User, form: FlaskForm, work: Callable[[], T]) -> tuple[T | bool | None, int]:
    """submit() under the second-factor limits: a code cannot be guessed here either; returns (result, status)."""
    ip = sessions.client_ip()
    if form.is_submitted():
        wait = throttle.attempt("2fa", ip, user.username)  # counted before the code is checked
        if wait:
            form.validate()
            form.code.errors = [*form.code.errors, f"Too many wrong codes. Wait {wait} seconds before trying again."]
            return None, 429
    result = submit(form, work, field="code")
    if result is None and form.is_submitted():
        return None, 422
    if form.is_submitted():
        throttle.clear("2fa", ip, user.username)
    return result, 200


@bp.get("/")
@role_required(*ALL_ROLES)
def index():
    """The user's security overview: two-factor login, remembered devices, active sessions."""
    user = _me()
    return render("account/index.html", user=user, codes_left=twofactor.codes_left(user) if user.has_two_factor else 0,
                  devices=twofactor.devices_of(user), sessions=user_sessions.active_for(user.id),
                  current_id=sessions.current_session_id(), required=twofactor.required_for(user),
                  device_label=user_sessions.device_label,
                  end_url=lambda s: url_for("account.end_session", session_id=s.id))


@bp.post("/two-factor/start")
@role_required(*ALL_ROLES)
def start():
    """Make a new key and go to the set-up page."""
    user = _me()
    if submit(None, lambda: twofactor.begin_enrolment(user)) is None:
        return redirect(url_for("account.index"))
    return redirect(url_for("account.setup"))


@bp.route("/two-factor/setup", methods=["GET", "POST"])
@role_required(*ALL_ROLES)
def setup():
    """Show the QR code and key; a right code turns two-factor login on and shows the recovery codes once."""
    user = _me()
    if user.has_two_factor or not user.totp_secret:
        return redirect(url_for("account.index"))
    form = CodeForm()
    codes, status = _throttled(user, form, lambda: twofactor.confirm_enrolment(user, form.code.data))
    if codes:
        sessions.rotate(user, two_factor=True)  # a stronger session is a new session
        return render("account/codes.html", codes=codes, continue_url=url_for("account.index"), enrolled=True)
    secret = twofactor.secret_of(user) or ""
    return render("account/setup.html", form=form, secret=secret, qr=qr_svg(twofactor.provisioning_uri(user, secret)),
                  status=status)


@bp.route("/two-factor/codes", methods=["GET", "POST"])
@role_required(*ALL_ROLES)
def codes():
    """New recovery codes after a current code; the old ones stop working."""
    user = _me()
    if not user.has_two_factor:
        return redirect(url_for("account.index"))
    form = CodeForm()
    new, status = _throttled(user, form, lambda: twofactor.regenerate_codes(user, form.code.data))
    if new:
        return render("account/codes.html", codes=new, continue_url=url_for("account.index"), enrolled=False)
    return render("account/regenerate.html", form=form, codes_left=twofactor.codes_left(user), status=status)


@bp.route("/two-factor/disable", methods=["GET", "POST"])
@role_required(*ALL_ROLES)
def disable():
    """Turn two-factor login off (password and a code); remembered devices are forgotten."""
    user = _me()
    if not user.has_two_factor:
        return redirect(url_for("account.index"))
    form = DisableForm()
    done, status = _throttled(user, form, lambda: twofactor.disable(user, form.password.data, form.code.data))
    if done:
        flash("Two-factor login is off. Remembered devices were forgotten.", "success")
        return redirect(url_for("account.index"))
    return render("account/disable.html", form=form, required=twofactor.required_for(user), status=status)


@bp.post("/devices/<int:device_id>/revoke")
@role_required(*ALL_ROLES)
def revoke_device(device_id: int):
    """Forget one remembered device: it asks for the code again."""
    if submit(None, lambda: twofactor.revoke_device(_me(), device_id)):
        flash("That device will ask for a code again.", "success")
    return redirect(url_for("account.index"))


@bp.post("/sessions/<int:session_id>/end")
@role_required(*ALL_ROLES)
def end_session(session_id: int):
    """End one of the user's other sessions."""
    if session_id == sessions.current_session_id():
        flash("To end this session, log out.", "error")
    elif submit(None, lambda: user_sessions.end_by_user(_me(), session_id)):
        flash("Session ended.", "success")
    return redirect(url_for("account.index"))


@bp.post("/sessions/end-others")
@role_required(*ALL_ROLES)
def end_others():
    """End every session of the user but this one."""
    count = submit(None, lambda: user_sessions.end_others(_me(), sessions.current_session_id()))
    if count is not None:
        flash(f"{count} other session(s) ended.", "success")
    return redirect(url_for("account.index"))
