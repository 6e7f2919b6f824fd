"""Helpers for the login-security tests: enrol through the pages, read what they show, compute codes like a phone."""
from __future__ import annotations

import html
import re
import time

import pyotp

from tests.conftest import TEST_PASSWORD, csrf_from


def code(secret: str, steps: int = 0) -> str:
    """The code an authenticator app shows `steps` periods from now (±1 is accepted by the server)."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps)


def shown_secret(page: str) -> str:
    """The key the set-up page shows for typing into the app."""
    match = re.search(r'data-test="totp-secret">([A-Z2-7]+)<', page)
    assert match, "no key on the page"
    return match.group(1)


def shown_codes(page: str) -> list[str]:
    """The recovery codes a page shows."""
    return re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", page)


def text(response) -> str:
    """The response body with entities decoded."""
    return html.unescape(response.get_data(as_text=True))


def enrol(client) -> tuple[str, list[str]]:
    """Turn 2FA on for the logged-in user through the Account pages; returns (secret, recovery codes)."""
    token = csrf_from(client.get("/account/").get_data(as_text=True))
    assert client.post("/account/two-factor/start", data={"csrf_token": token}).status_code == 302
    page = client.get("/account/two-factor/setup").get_data(as_text=True)
    assert "<svg" in page  # the QR code, inline
    secret = shown_secret(page)
    done = client.post("/account/two-factor/setup", data={"csrf_token": csrf_from(page), "code": code(secret)})
    assert done.status_code == 200, done.get_data(as_text=True)
    codes = shown_codes(done.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


def password_step(client, username: str, password: str = TEST_PASSWORD, next_url: str | None = None):
    """Post the login form (first step)."""
    token = csrf_from(client.get("/auth/login").get_data(as_text=True))
    url = "/auth/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"username": username, "password": password, "csrf_token": token})


def factor_step(client, value: str, remember: bool = False):
    """Post the second-factor form."""
    page = client.get("/auth/two-factor")
    assert page.status_code == 200, page.status_code
    data = {"code": value, "csrf_token": csrf_from(page.get_data(as_text=True))}
    if remember:
        data["remember"] = "y"
    return client.post("/auth/two-factor", data=data)


def logout(client):
    """Post the logout form."""
    token = csrf_from(client.get("/account/").get_data(as_text=True))
    return client.post("/auth/logout", data={"csrf_token": token})


def set_security(app, **fields) -> None:
    """Change the security settings row (require_2fa_admin, remember_device_days, …)."""
    from isp.extensions import db
    from isp.services import branding

    with app.app_context():
        row = branding.get()
        for key, value in fields.items():
            setattr(row, key, value)
        db.session.commit()


def audit_actions(app, action: str) -> list:
    """(actor_id, target_type, target_id, detail, via) of the audit entries with this action, oldest first."""
    from isp.extensions import db
    from isp.models import AuditEntry

    with app.app_context():
        rows = db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
        return [(r.actor_id, r.target_type, r.target_id, r.detail, r.via) for r in rows]
