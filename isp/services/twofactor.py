"""Two-factor login: TOTP enrolment (pyotp), single-use recovery codes, remembered devices, disable and admin reset.

The TOTP seed is Fernet-encrypted on users.totp_secret; a code is accepted one step either side of now and only
once (users.totp_last_step moves forward with one conditional UPDATE, so two requests cannot both use it).
Recovery codes and device tokens are random, stored as SHA-256 and marked used/revoked with conditional UPDATEs.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import timedelta

import pyotp
from sqlalchemy import func, select, update

from isp import crypto
from isp.extensions import db
from isp.models import Branding, User
from isp.models.base import utcnow
from isp.models.security import RecoveryCode, TrustedDevice
from isp.services import audit, security_settings, user_sessions
from isp.services.errors import ServiceError

RECOVERY_CODES = 10
STEP = 30  # seconds per TOTP code (the authenticator apps' default)
DRIFT = 1  # steps accepted either side of now
ISSUER = "isp panel"
DEFAULT_REMEMBER_DAYS = 30  # the branding column's default, while no settings row exists


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _clean(code: str) -> str:
    """A typed code without spaces or dashes, lower-cased."""
    # ASCII only: other scripts' digits ("١٢٣") are not a code (and hmac.compare_digest refuses non-ASCII text).
    return "".join(ch for ch in (code or "") if ch.isascii() and ch.isalnum()).lower()[:32]


def secret_of(user: User) -> str | None:
    """The user's TOTP seed in clear (pending or enabled), or None."""
    return crypto.decrypt(user.totp_secret) if user.totp_secret else None


def begin_enrolment(user: User) -> str:
    """Give the user a fresh, not yet confirmed seed (replacing an unconfirmed one); returns it."""
    if user.has_two_factor:
        raise ServiceError("Two-factor login is already on for this account.")
    secret = pyotp.random_base32()
    user.totp_secret = crypto.encrypt(secret)
    user.totp_last_step = None
    db.session.flush()
    return secret


def provisioning_uri(user: User, secret: str) -> str:
    """The otpauth:// URI an authenticator app scans."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)


def _matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The step (now ±DRIFT) whose code equals `code`, latest first, or None."""
    code = _clean(code)
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int((now if now is not None else time.time()) // STEP)
    for step in (current + DRIFT, current, current - DRIFT):
        if hmac.compare_digest(totp.at(step * STEP), code):
            return step
    return None


def _claim_step(user: User, step: int) -> bool:
    """Record step as used if no later or equal step was used before (atomic); False means a replay."""
    result = db.session.execute(
        update(User).where(User.id == user.id,
                           (User.totp_last_step.is_(None)) | (User.totp_last_step < step)).values(totp_last_step=step),
        execution_options={"synchronize_session": False})
    if result.rowcount:
        user.totp_last_step = step
        return True
    return False


def check_totp(user: User, code: str, now: float | None = None) -> bool:
    """True for a right code not used before (the step is then spent)."""
    secret = secret_of(user)
    if secret is None:
        return False
    step = _matching_step(secret, code, now)
    return step is not None and _claim_step(user, step)


def use_recovery_code(user: User, code: str) -> bool:
    """Spend one unused recovery code; True if it was one."""
    code = _clean(code)
    if len(code) != 10:
        return False
    result = db.session.execute(
        update(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _sha(code),
                                   RecoveryCode.used_at.is_(None)).values(used_at=utcnow()),
        execution_options={"synchronize_session": False})
    return bool(result.rowcount)


def verify_second_factor(user: User, code: str) -> str | None:
    """'totp' or 'recovery' when the code passes (and is spent), else None."""
    if not user.has_two_factor:
        return None
    if check_totp(user, code):
        return "totp"
    if use_recovery_code(user, code):
        audit.record(user, "2fa.recovery_code_used", obj=user, detail=f"{codes_left(user)} recovery code(s) left")
        return "recovery"
    return None


def _new_codes(user: User) -> list[str]:
    """Replace the user's recovery codes with ten new ones; returns them formatted (xxxxx-xxxxx) for showing once."""
    db.session.execute(RecoveryCode.__table__.delete().where(RecoveryCode.user_id == user.id))
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread on paper
    codes = ["".join(secrets.choice(alphabet) for _ in range(10)) for _ in range(RECOVERY_CODES)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_sha(code)) for code in codes)
    db.session.flush()
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def codes_left(user: User) -> int:
    """How many unused recovery codes the user has."""
    return db.session.scalar(select(func.count()).select_from(RecoveryCode)
                             .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))) or 0


def confirm_enrolment(user: User, code: str) -> list[str]:
    """Turn 2FA on once the user proves the app works; returns the recovery codes (shown once)."""
    if user.has_two_factor:
        raise ServiceError("Two-factor login is already on for this account.")
    if not user.totp_secret:
        raise ServiceError("Start the set-up again: no pending key was found.")
    if not check_totp(user, code):
        raise ServiceError("That code is not right. Check the time on your phone and type the current 6-digit code.",
                           field="code")
    user.totp_enabled_at = utcnow()
    codes = _new_codes(user)
    audit.record(user, "2fa.enable", obj=user, changes={"two_factor": [False, True]})
    return codes


def regenerate_codes(user: User, code: str) -> list[str]:
    """New recovery codes (the old ones stop working), after a current authenticator code."""
    if not user.has_two_factor:
        raise ServiceError("Two-factor login is off for this account.")
    if not check_totp(user, code):
        raise ServiceError("That code is not right. Type the current 6-digit code from your app.", field="code")
    codes = _new_codes(user)
    audit.record(user, "2fa.recovery_codes", obj=user, detail="recovery codes regenerated")
    return codes


def _clear(user: User) -> None:
    """Forget the seed, the codes and every remembered device of the account."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(RecoveryCode.__table__.delete().where(RecoveryCode.user_id == user.id))
    revoke_all_devices(user.id)
    db.session.flush()


def disable(user: User, password: str, code: str) -> None:
    """The user turns 2FA off: needs the password and a current code (or a recovery code)."""
    if not user.has_two_factor:
        raise ServiceError("Two-factor login is already off.")
    if required_for(user):
        raise ServiceError(f"Two-factor login is required for {user.role.value} accounts (Settings → Security), "
                           "so it cannot be turned off. Make new recovery codes, or ask another admin to reset it "
                           "if you lost your phone.")
    if not user.check_password(password or ""):
        raise ServiceError("The password is not right.", field="password")
    if verify_second_factor(user, code) is None:
        raise ServiceError("That code is not right.", field="code")
    _clear(user)
    audit.record(user, "2fa.disable", obj=user, changes={"two_factor": [True, False]})


def admin_reset(actor: User | None, user: User, via: str | None = None) -> None:
    """Another admin (or the CLI) resets a lost second factor: seed, codes and devices go, and the sessions end."""
    if actor is not None and actor.id == user.id:
        raise ServiceError("You cannot reset your own two-factor login here; use your Account page.")
    if not user.totp_secret and not user.has_two_factor:
        raise ServiceError(f"{user.username} has no two-factor login to reset.")
    was_on = user.has_two_factor
    _clear(user)
    user.session_version += 1  # a login half-way through its second factor starts again too
    ended = user_sessions.end_all(user.id, "2fa-reset")
    audit.record(actor, "2fa.reset", obj=user, changes={"two_factor": [was_on, False]},
                 detail=f"two-factor login of {user.username} reset; {ended} session(s) ended", via=via)


def required_for(user: User) -> bool:
    """True when the settings make a second factor compulsory for the user (read only: no settings row, no rule)."""
    if db.session.get(Branding, 1) is None:  # security_settings would create the row: not on the login path
        return False
    return security_settings.two_factor_required(user)


def remember_days() -> int:
    """Days a remembered device skips the second factor (0: the option is off); read only."""
    if db.session.get(Branding, 1) is None:
        return DEFAULT_REMEMBER_DAYS
    return security_settings.remember_device_days()


# -- remembered devices ---------------------------------------------------------------------------------------------

def remember_device(user: User, ip: str, label: str, days: int) -> str:
    """Trust this browser for `days`; returns the random token for its signed cookie."""
    token = secrets.token_urlsafe(32)
    device = TrustedDevice(user_id=user.id, token_hash=_sha(token), label=(label or "")[:200], ip=(ip or "")[:45],
                           expires_at=utcnow() + timedelta(days=days))
    db.session.add(device)
    db.session.flush()
    audit.record(user, "2fa.device_remember", obj=device, detail=f"{label} for {days} day(s)")
    return token


def trusted_device(user: User, token: str | None) -> TrustedDevice | None:
    """The user's live remembered device this token names (its last use noted), or None."""
    if not token or not user.has_two_factor:
        return None
    days = remember_days()
    if days <= 0:
        return None  # the option was turned off: devices remembered before no longer skip the code
    now = utcnow()
    # The current setting caps devices remembered under a longer one.
    device = db.session.scalar(select(TrustedDevice).where(
        TrustedDevice.user_id == user.id, TrustedDevice.token_hash == _sha(token),
        TrustedDevice.revoked_at.is_(None), TrustedDevice.expires_at > now,
        TrustedDevice.created_at > now - timedelta(days=days)))
    if device is not None:
        device.last_used_at = now
        db.session.flush()
    return device


def devices_of(user: User) -> list[TrustedDevice]:
    """The user's remembered devices that still work."""
    return list(db.session.scalars(select(TrustedDevice).where(
        TrustedDevice.user_id == user.id, TrustedDevice.revoked_at.is_(None), TrustedDevice.expires_at > utcnow())
        .order_by(TrustedDevice.created_at.desc()).limit(100)))


def revoke_device(user: User, device_id: int) -> None:
    """The user forgets one remembered device."""
    device = db.session.get(TrustedDevice, device_id)
    if device is None or device.user_id != user.id or device.revoked_at is not None:
        raise ServiceError("That device is no longer remembered.")
    device.revoked_at = utcnow()
    audit.record(user, "2fa.device_revoke", obj=device, detail=device.label)
    db.session.flush()


def revoke_all_devices(user_id: int) -> int:
    """Forget every remembered device of an account (2FA reset or off, password change)."""
    result = db.session.execute(
        update(TrustedDevice).where(TrustedDevice.user_id == user_id, TrustedDevice.revoked_at.is_(None))
        .values(revoked_at=utcnow()), execution_options={"synchronize_session": False})
    return result.rowcount or 0
