"""Personal API tokens: create (the raw value is returned once), authenticate, note use, revoke, list.

Only the SHA-256 of a token is stored; the raw value `isp_<43 url-safe chars>` exists in the creator's browser
and nowhere else (not in the audit log, not in logs). A token carries scopes no wider than its owner's role
allows; if the owner's role later narrows, the token stops authenticating rather than keep powers the owner lost.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from isp.extensions import db
from isp.models import User
from isp.models.base import utcnow
from isp.models.security import ApiToken
from isp.services import audit
from isp.services.errors import ServiceError

SCOPES = ("read", "vouchers", "customers", "routers", "admin")
ROLE_SCOPES = {
    "admin": frozenset(SCOPES),
    "operator": frozenset(SCOPES) - {"admin"},
    "reseller": frozenset({"read", "vouchers", "customers"}),
}
PREFIX = "isp_"
PREFIX_LEN = 12  # shown in lists: "isp_" and 8 random characters
MAX_NAME = 80
MAX_LIFETIME = timedelta(days=730)
TOUCH_EVERY = timedelta(minutes=1)
MAX_RAW = 128  # anything longer is not one of ours: refused before hashing


class TokenError(ServiceError, ValueError):
    """A refused token operation; a ValueError for API callers, a ServiceError for the form helper."""


def hash_token(raw: str) -> str:
    """The stored form of a raw token (SHA-256 hex; the raw value carries 256 random bits)."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def allowed_scopes(user: User) -> set[str]:
    """The scopes this user may put on a token: admin all, operator all but admin, reseller read/vouchers/customers."""
    return set(ROLE_SCOPES.get(user.role.value, frozenset()))


def _expiry(expires_at: datetime | None, now: datetime) -> datetime | None:
    """Check an expiry: none, or aware, in the future and at most two years away."""
    if expires_at is None:
        return None
    if expires_at.tzinfo is None:
        raise TokenError("The expiry needs a timezone (give it in UTC).", field="expires")
    if expires_at <= now:
        raise TokenError("The expiry must be in the future.", field="expires")
    if expires_at > now + MAX_LIFETIME:
        raise TokenError("A token can last at most 2 years; choose an earlier expiry or none.", field="expires")
    return expires_at


def create(actor: User, name: str, scopes: set[str], expires_at: datetime | None) -> tuple[ApiToken, str]:
    """Create a token for `actor`; return it with the raw value, which is never stored nor shown again."""
    name = (name or "").strip()
    if not 1 <= len(name) <= MAX_NAME:
        raise TokenError(f"Name the token (1 to {MAX_NAME} characters), e.g. 'billing export'.", field="name")
    scopes = {str(s).strip() for s in (scopes or set())}
    unknown = sorted(scopes - set(SCOPES))
    if unknown:
        raise TokenError(f"Unknown scope {', '.join(repr(s) for s in unknown)}: choose from {', '.join(SCOPES)}.",
                         field="scopes")
    if not scopes:
        raise TokenError("Choose at least one scope.", field="scopes")
    beyond = [s for s in SCOPES if s in scopes - allowed_scopes(actor)]
    if beyond:
        raise TokenError(f"Your role ({actor.role.value}) cannot grant {', '.join(beyond)}.", field="scopes")
    now = utcnow()
    expires_at = _expiry(expires_at, now)
    raw = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=actor.id, name=name, prefix=raw[:PREFIX_LEN], token_hash=hash_token(raw),
                     scopes=" ".join(s for s in SCOPES if s in scopes), created_at=now, expires_at=expires_at)
    db.session.add(token)
    db.session.flush()
    audit.record(actor, "api_token.create", f"{name} ({actor.username})"[:128], obj=token,
                 changes=audit.diff({}, audit.snapshot(token, ("name", "scopes", "expires_at"))))
    return token, raw


def authenticate(raw: str) -> ApiToken | None:
    """The live token this raw value names (not revoked, not expired, owner active, scopes within the role), or None."""
    if not isinstance(raw, str) or not raw.startswith(PREFIX) or len(raw) > MAX_RAW:
        return None
    digest = hash_token(raw)
    # Looked up by its hash, so response time tells nothing about how much of a guess matched.
    row = db.session.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id).where(ApiToken.token_hash == digest)
    ).first()
    if row is None:
        return None
    token, user = row
    if not hmac.compare_digest(token.token_hash, digest):
        return None
    if token.revoked_at is not None or not user.active or not is_live(token):
        return None
    if not token.scope_set <= allowed_scopes(user):
        return None
    return token


def is_live(token: ApiToken, now: datetime | None = None) -> bool:
    """True while the token is neither revoked nor expired."""
    now = now or utcnow()
    return token.revoked_at is None and (token.expires_at is None or token.expires_at > now)


def state(token: ApiToken, owner: User | None = None, now: datetime | None = None) -> str:
    """active, expired, revoked, or 'exceeds role' when the owner's role no longer allows the token's scopes."""
    if token.revoked_at is not None:
        return "revoked"
    if not is_live(token, now):
        return "expired"
    if owner is not None and not token.scope_set <= allowed_scopes(owner):
        return "exceeds role"
    if owner is not None and not owner.active:
        return "owner disabled"
    return "active"


def touch(token: ApiToken, ip: str) -> None:
    """Note the token's use: at most one UPDATE a minute per token, none for the requests in between.

    The conditional WHERE makes concurrent requests agree: only one of them writes. The caller commits.
    """
    now = utcnow()
    if token.last_used_at is not None and now - token.last_used_at < TOUCH_EVERY:
        return
    cutoff = now - TOUCH_EVERY
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.id == token.id, or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < cutoff))
        .values(last_used_at=now, last_used_ip=(ip or "")[:45]),
        execution_options={"synchronize_session": False},
    )
    # Keep the loaded object in step without marking it dirty (no second write at flush, no reload).
    set_committed_value(token, "last_used_at", now)
    set_committed_value(token, "last_used_ip", (ip or "")[:45])


def revoke(actor: User, token: ApiToken) -> None:
    """Revoke a token: its owner or an admin may; anyone else is told it does not exist."""
    if token.user_id != actor.id and not actor.has_role("admin"):
        raise TokenError("No such token.")
    if token.revoked_at is not None:
        raise TokenError(f"The token '{token.name}' is already revoked.")
    before = audit.snapshot(token, ("revoked_at",))
    token.revoked_at = utcnow()
    db.session.flush()
    owner = db.session.get(User, token.user_id)
    audit.record(actor, "api_token.revoke", f"{token.name} ({owner.username if owner else token.user_id})"[:128],
                 obj=token, changes=audit.diff(before, audit.snapshot(token, ("revoked_at",))))


def revoke_all(actor: User, owner: User) -> int:
    """Revoke every token of `owner` not yet revoked, in one statement (after a leak, or when someone leaves):
    their own, or anyone's for an admin. Returns how many; one audit row says so."""
    if owner.id != actor.id and not actor.has_role("admin"):
        raise TokenError("No such user.")
    count = db.session.execute(
        update(ApiToken).where(ApiToken.user_id == owner.id, ApiToken.revoked_at.is_(None)).values(revoked_at=utcnow()),
        execution_options={"synchronize_session": False}).rowcount or 0
    if not count:
        raise TokenError(f"{owner.username} has no token left to revoke.")
    audit.record(actor, "api_token.revoke_all", owner.username, f"{count} token{'s' if count != 1 else ''} revoked",
                 obj=owner, changes={"tokens revoked": [None, count]})
    return count


def for_user(user: User) -> list[ApiToken]:
    """The user's own tokens, newest first."""
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())))


def visible(actor: User, token_id: int) -> ApiToken | None:
    """The token if the actor may see it (their own, or any for an admin), else None."""
    stmt = select(ApiToken).where(ApiToken.id == token_id)
    if not actor.has_role("admin"):
        stmt = stmt.where(ApiToken.user_id == actor.id)
    return db.session.scalar(stmt)


def list_query(actor: User, user_id: int | None = None):
    """Select the tokens the actor may see, newest first: their own, or for an admin everyone's (or one user's)."""
    stmt = select(ApiToken).order_by(ApiToken.id.desc())  # ids grow with time: the primary key is the order
    if not actor.has_role("admin"):
        return stmt.where(ApiToken.user_id == actor.id)
    if user_id is not None:
        stmt = stmt.where(ApiToken.user_id == user_id)
    return stmt


def owners(tokens: list[ApiToken]) -> dict[int, User]:
    """The owners of these tokens by id, in one query."""
    ids = {t.user_id for t in tokens}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
