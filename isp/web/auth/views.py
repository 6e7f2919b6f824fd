"""Login (password, then the second factor or a forced enrolment) and logout."""
from __future__ import annotations

from flask import Response, flash, redirect, request, url_for
from flask_login import current_user, logout_user
from flask_wtf import FlaskForm

from isp.models import User
from isp.services import twofactor, user_sessions, users
from isp.services.errors import ServiceError
from isp.transaction import atomic
from isp.web.auth import bp, sessions, throttle
from isp.web.auth.forms import EnrolForm, LoginForm, SecondFactorForm
from isp.web.auth.qr import qr_svg
from isp.web.render import render
from isp.web.security import ALL_ROLES, public, role_required, safe_next

TIMED_OUT = "Your login timed out. Enter your password again."


def _home(next_url: str | None = None) -> str:
    return safe_next(next_url) or url_for("dashboard.index")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    """Show the login form and check the password; a second factor, when needed, comes next."""
    if current_user.is_authenticated:
        return redirect(_home(request.args.get("next")))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        ip, name = sessions.client_ip(), form.username.data
        wait = throttle.attempt("login", ip, name)
        if wait:
            form.form_errors.append(f"Too many failed attempts. Wait {wait} seconds before trying again.")
            status = 429
        else:
            user = users.authenticate(name, form.password.data)
            if user is not None:
                throttle.clear("login", ip, name)
                return _after_password(user, safe_next(request.args.get("next")))
            atomic(lambda: users.note_failed_login(name, users.find_by_username(name), "password"))
            form.form_errors.append("Invalid username or password.")
            status = 422
    elif form.is_submitted():
        status = 422  # a blank or over-long field: the form shows which
    return render("auth/login.html", form=form, status=status)


def _after_password(user: User, next_url: str | None) -> Response:
    """Trusted device or no 2FA: logged in; 2FA on: the code page; 2FA required but missing: forced enrolment."""
    if user.has_two_factor:
        token = sessions.device_token_for(user)
        if token and atomic(lambda: twofactor.trusted_device(user, token)) is not None:
            sessions.complete_login(user, two_factor=True)
            return redirect(_home(next_url))
        sessions.set_pending(user, next_url, enrol=False)
        return redirect(url_for("auth.second_factor"))
    if twofactor.required_for(user):
        atomic(lambda: twofactor.begin_enrolment(user))
        sessions.set_pending(user, next_url, enrol=True)
        return redirect(url_for("auth.enrol"))
    sessions.complete_login(user, two_factor=False)
    return redirect(_home(next_url))


def _refused(scope: str, user: User, form: FlaskForm, wrong: str) -> int:
    """Count a wrong code, audit it and put the tries left (or the wait) on the form; returns the status."""
    ip = sessions.client_ip()
    left = throttle.tries_left(scope, ip, user.username)
    atomic(lambda: users.note_failed_login(user.username, user, "second factor"))
    if left == 0:
        wait = throttle.wait_for(scope, ip, user.username)
        form.code.errors.append(f"{wrong} Too many wrong codes: wait {wait} seconds before trying again.")
        return 429
    tries = f" {left} {'try' if left == 1 else 'tries'} left before a pause." if left is not None else ""
    form.code.errors.append(wrong + tries)
    return 422


@bp.route("/two-factor", methods=["GET", "POST"])
@public
def second_factor():
    """The second step of a login: a code from the authenticator app or a recovery code."""
    user, next_url = sessions.pending_user(enrol=False)
    if user is None:
        flash(TIMED_OUT, "info")
        return redirect(url_for("auth.login"))
    form = SecondFactorForm()
    days = twofactor.remember_days()
    status = 200
    if form.validate_on_submit():
        ip = sessions.client_ip()
        wait = throttle.attempt("2fa", ip, user.username)
        if wait:
            form.code.errors.append(f"Too many wrong codes. Wait {wait} seconds before trying again.")
            status = 429
        else:
            method = atomic(lambda: twofactor.verify_second_factor(user, form.code.data))
            if method is not None:
                throttle.clear("2fa", ip, user.username)
                remember = days if (days and form.remember.data) else 0
                device = sessions.complete_login(user, two_factor=True, remember_days=remember)
                if method == "recovery":
                    flash(f"Recovery code accepted; it cannot be used again. {atomic(lambda: twofactor.codes_left(user))} left.",
                          "info")
                response = redirect(_home(next_url))
                if device:
                    sessions.set_device_cookie(response, user, device, remember)
                return response
            status = _refused("2fa", user, form, "That code is not right, or it was already used.")
    return render("auth/two_factor.html", form=form, days=days, status=status)


@bp.route("/two-factor/enrol", methods=["GET", "POST"])
@public
def enrol():
    """Forced enrolment: two-factor login is required for this role, so it is set up before anything else."""
    user, next_url = sessions.pending_user(enrol=True)
    if user is None:
        flash(TIMED_OUT, "info")
        return redirect(url_for("auth.login"))
    form = EnrolForm()
    status = 200
    if form.validate_on_submit():
        ip = sessions.client_ip()
        wait = throttle.attempt("2fa", ip, user.username)
        if wait:
            form.code.errors.append(f"Too many wrong codes. Wait {wait} seconds before trying again.")
            status = 429
        else:
            try:
                codes = atomic(lambda: twofactor.confirm_enrolment(user, form.code.data))
            except ServiceError as err:
                status = _refused("2fa", user, form, err.message)
            else:
                throttle.clear("2fa", ip, user.username)
                sessions.complete_login(user, two_factor=True)
                return render("account/codes.html", codes=codes, continue_url=_home(next_url), enrolled=True)
    secret = twofactor.secret_of(user) or atomic(lambda: twofactor.begin_enrolment(user))
    uri = twofactor.provisioning_uri(user, secret)
    return render("auth/enrol.html", form=form, secret=secret, qr=qr_svg(uri), status=status)


@bp.route("/logout", methods=["POST"])
@role_required(*ALL_ROLES)
def logout():
    """End this session on the server too: a copy of its cookie taken before is refused afterwards."""
    user = current_user._get_current_object()  # type: ignore[attr-defined]
    atomic(lambda: user_sessions.logout(user, sessions.current_session_id()))
    logout_user()
    sessions.clear_pending()
    flash("You have been logged out.", "info")
    return redirect(url_for("auth.login"))
