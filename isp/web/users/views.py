"""Views to list, create and edit accounts (admins only)."""
from __future__ import annotations

from collections.abc import Callable

from flask import current_app, flash, redirect, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from isp.extensions import db
from isp.models import Role, User
from isp.services import twofactor, user_sessions, users
from isp.web.auth.forms import EmptyForm
from isp.web.auth.sessions import current_session_id
from isp.web.forms import submit
from isp.web.render import render
from isp.web.security import role_required
from isp.web.users import bp
from isp.web.users.forms import PasswordResetForm, RoleForm, UserCreateForm


@bp.route("/")
@role_required("admin")
def index():
    """List accounts, filtered by search and role."""
    q, role = request.args.get("q", ""), request.args.get("role", "")
    page = db.paginate(users.list_query(q, role), per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render("users/index.html", block="results", page=page, q=q, role=role, roles=list(Role))


@bp.route("/new", methods=["GET", "POST"])
@role_required("admin")
def create():
    """Create an account."""
    form = UserCreateForm()
    user = submit(form, lambda: users.create_user(form.username.data, form.password.data, Role(form.role.data),
                                                  form.full_name.data, current_user), field="username")
    if user is not None:
        flash(f"Account '{user.username}' created.", "success")
        return redirect(url_for("users.edit", user_id=user.id))
    return render("users/create.html", form=form, status=422 if form.errors else 200)


@bp.route("/<int:user_id>")
@role_required("admin")
def edit(user_id: int):
    """Show one account with its actions."""
    user = db.get_or_404(User, user_id)
    return render("users/edit.html", user=user, role_form=RoleForm(role=user.role.value),
                  password_form=PasswordResetForm(), toggle_form=EmptyForm(),
                  sessions=user_sessions.active_for(user.id), device_label=user_sessions.device_label,
                  current_id=current_session_id() if user.id == current_user.id else None,
                  end_url=lambda s: url_for("users.end_session", user_id=user.id, session_id=s.id))


def _apply(user_id: int, action: Callable[[User], object], success: str, form: FlaskForm | None = None):
    """Run a service action on an account, commit once, and go back to its page."""
    user = db.get_or_404(User, user_id)
    if form is not None and not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
        return redirect(url_for("users.edit", user_id=user.id))
    if submit(None, lambda: action(user)) is not None:
        flash(success.format(user=user), "success")
    return redirect(url_for("users.edit", user_id=user.id))


@bp.route("/<int:user_id>/role", methods=["POST"])
@role_required("admin")
def change_role(user_id: int):
    """Change an account's role."""
    form = RoleForm()
    return _apply(user_id, lambda u: users.change_role(u, Role(form.role.data), current_user),
                  "Role of {user.username} changed.", form)


@bp.route("/<int:user_id>/password", methods=["POST"])
@role_required("admin")
def reset_password(user_id: int):
    """Set a new password for an account."""
    form = PasswordResetForm()
    return _apply(user_id, lambda u: users.reset_password(u, form.password.data, current_user),
                  "Password of {user.username} reset.", form)


@bp.route("/<int:user_id>/disable", methods=["POST"])
@role_required("admin")
def disable(user_id: int):
    """Disable an account and end its sessions."""
    return _apply(user_id, lambda u: users.set_active(u, False, current_user), "{user.username} is disabled.", EmptyForm())


@bp.route("/<int:user_id>/enable", methods=["POST"])
@role_required("admin")
def enable(user_id: int):
    """Re-enable an account."""
    return _apply(user_id, lambda u: users.set_active(u, True, current_user), "{user.username} is enabled.", EmptyForm())


@bp.route("/<int:user_id>/reset-2fa", methods=["GET", "POST"])
@role_required("admin")
def reset_two_factor(user_id: int):
    """Reset another account's lost second factor (after a confirmation page); its sessions end."""
    user = db.get_or_404(User, user_id)
    form = EmptyForm()
    if user.id == current_user.id:
        flash("You cannot reset your own two-factor login here; use your Account page.", "error")
        return redirect(url_for("users.edit", user_id=user.id))
    if form.validate_on_submit():
        return _apply(user_id, lambda u: twofactor.admin_reset(current_user, u),
                      "Two-factor login of {user.username} reset; their sessions ended.")
    return render("users/reset_two_factor.html", user=user, form=form)


@bp.route("/<int:user_id>/sessions/<int:session_id>/end", methods=["POST"])
@role_required("admin")
def end_session(user_id: int, session_id: int):
    """End one session of an account."""
    return _apply(user_id, lambda u: user_sessions.end_by_admin(current_user, u, session_id),
                  "Session of {user.username} ended.", EmptyForm())


@bp.route("/<int:user_id>/sessions/end-all", methods=["POST"])
@role_required("admin")
def end_all_sessions(user_id: int):
    """End every session of an account."""
    return _apply(user_id, lambda u: user_sessions.end_by_admin(current_user, u, None),
                  "Every session of {user.username} ended.", EmptyForm())
