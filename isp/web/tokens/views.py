"""API token pages: list (admins see everyone's), create (the token is shown once), revoke."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select

from isp.extensions import db
from isp.models import User
from isp.models.base import utcnow
from isp.models.security import ApiToken
from isp.services import api_tokens
from isp.web.auth.forms import EmptyForm
from isp.web.forms import submit
from isp.web.numbers import parse_id
from isp.web.render import render
from isp.web.security import ALL_ROLES, role_required
from isp.web.tokens import bp
from isp.web.tokens.forms import TokenForm


def _user_filter() -> int | None:
    """The ?user= filter (admins only); a malformed one is ignored."""
    return parse_id(request.args.get("user")) if current_user.has_role("admin") else None


def _index(form: TokenForm, status: int = 200):
    """The token list with the create form."""
    user_id = _user_filter()
    page = db.paginate(api_tokens.list_query(current_user, user_id), per_page=current_app.config["PAGE_SIZE"],
                       error_out=False)
    owners = []
    if current_user.has_role("admin"):
        owners = db.session.scalars(select(User).where(User.id.in_(select(ApiToken.user_id).distinct()))
                                    .order_by(User.username)).all()
    by_id = api_tokens.owners(page.items)
    rows = [(t, by_id[t.user_id]) for t in page.items]
    response = render("tokens/index.html", block="results", page=page, rows=rows, form=form, revoke_form=EmptyForm(),
                      owners=owners, user_id=user_id, state=api_tokens.state, now=utcnow(), status=status)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/")
@role_required(*ALL_ROLES)
def index():
    """The user's API tokens (an admin's list shows everyone's)."""
    return _index(TokenForm(api_tokens.allowed_scopes(current_user)))


@bp.post("/")
@role_required(*ALL_ROLES)
def create():
    """Create a token and show its value this once."""
    form = TokenForm(api_tokens.allowed_scopes(current_user))
    result = submit(form, lambda: api_tokens.create(current_user, form.name.data, set(form.scopes.data or ()),
                                                    form.expires_at(utcnow())), field="name")
    if not result:
        return _index(form, status=422)
    token, raw = result
    response = render("tokens/created.html", token=token, raw=raw,
                      api_url=request.host_url.rstrip("/") + "/api/v1/vouchers")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/<int:token_id>/revoke")
@role_required(*ALL_ROLES)
def revoke(token_id: int):
    """Revoke a token (its owner, or an admin)."""
    token = api_tokens.visible(current_user, token_id)
    if token is None:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    if submit(None, lambda: api_tokens.revoke(current_user, token)) is not None:
        flash(f"Token '{token.name}' revoked: it no longer opens the API.", "success")
    user_id = request.args.get("user", "")
    return redirect(url_for("tokens.index", **({"user": user_id} if user_id.isdigit() else {})))


@bp.post("/revoke-all")
@role_required(*ALL_ROLES)
def revoke_all():
    """Revoke every token of one user: your own, or (an admin) the user named by ?user=."""
    owner = current_user
    user_id = _user_filter()
    if user_id is not None:
        owner = db.session.get(User, user_id) or abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    name = owner.username
    count = submit(None, lambda: api_tokens.revoke_all(current_user, owner))
    if count:
        flash(f"{count} token{'s' if count != 1 else ''} of {name} revoked: none of them opens the API any more.", "success")
    return redirect(url_for("tokens.index", **({"user": user_id} if user_id is not None else {})))
