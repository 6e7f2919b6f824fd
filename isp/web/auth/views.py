"""Login and logout views."""
from __future__ import annotations

from flask import current_app, flash, redirect, request, url_for
from flask_login import current_user, login_user, logout_user

from isp.services import ratelimit, users
from isp.transaction import atomic
from isp.web.auth import bp
from isp.web.auth.forms import LoginForm
from isp.web.render import render
from isp.web.security import ALL_ROLES, public, role_required, safe_next


def _client_ip() -> str:
    """The caller's address (ProxyFix, when enabled, has already resolved proxies)."""
    return request.remote_addr or "unknown"


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    """Show the login form and log the user in."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")) or url_for("dashboard.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        ip, name = _client_ip(), form.username.data
        wait = ratelimit.login_blocked_for(ip, name)
        if wait:
            form.form_errors.append(f"Too many failed attempts. Wait {wait} seconds before trying again.")
            status = 429
        else:
            user = users.authenticate(name, form.password.data)
            if user is not None:
                ratelimit.clear(ip, name)
                atomic(lambda: users.note_login(user))  # commits; re-run whole on a deadlock
                login_user(user)
                return redirect(safe_next(request.args.get("next")) or url_for("dashboard.index"))
            ratelimit.record_failure(ip, name)
            current_app.logger.info("failed login for %r from %s", name[:64], ip)
            form.form_errors.append("Invalid username or password.")
            status = 422
    return render("auth/login.html", form=form, status=status)


@bp.route("/logout", methods=["POST"])
@role_required(*ALL_ROLES)
def logout():
    """End the session, on the server too: a copy of the cookie taken before is refused afterwards."""
    user = current_user._get_current_object()  # type: ignore[attr-defined]
    atomic(lambda: users.end_sessions(user))
    logout_user()
    flash("You have been logged out.", "info")
    return redirect(url_for("auth.login"))
