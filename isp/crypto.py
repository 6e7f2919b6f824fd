"""Encryption of secrets at rest (router passwords) with Fernet from ISP_ENCRYPTION_KEY."""
from __future__ import annotations

import json
from collections.abc import Iterable

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app

# A bound secret is stored as this prefix + a Fernet token over {"secret": ..., "bind": {...}}.
# Legacy tokens (plain Fernet over the secret) start with "gAAAA", so the two never collide.
BOUND_PREFIX = "b1:"


def _fernet() -> Fernet:
    return Fernet(current_app.config["ISP_ENCRYPTION_KEY"].encode())


def encrypt(plaintext: str) -> str:
    """Encrypt a secret; the token is ASCII, safe for a Text column."""
    return _fernet().encrypt(plaintext.encode("utf-8")).decode("ascii")


def _decrypt_raw(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError):
        raise ValueError("stored secret cannot be decrypted: was ISP_ENCRYPTION_KEY changed?") from None


def encrypt_bound(secret: str, binding: dict) -> str:
    """Encrypt a secret together with where it may be sent (tamper-proof: the binding is inside the token)."""
    return BOUND_PREFIX + encrypt(json.dumps({"secret": secret, "bind": binding}, sort_keys=True))


def decrypt_bound(token: str) -> tuple[str, dict | None]:
    """(secret, binding) from a stored token; binding is None for a legacy token saved before binding existed."""
    if not token.startswith(BOUND_PREFIX):
        return _decrypt_raw(token), None
    try:
        data = json.loads(_decrypt_raw(token[len(BOUND_PREFIX):]))
        return str(data["secret"]), dict(data["bind"])
    except (KeyError, TypeError, json.JSONDecodeError):
        raise ValueError("stored secret is malformed") from None


def decrypt(token: str) -> str:
    """The secret alone, bound or legacy; raises ValueError if the key changed or the token is corrupt."""
    return decrypt_bound(token)[0]


def endpoint_binding(addresses: Iterable[str], port: int, username: str, tls: bool, verify_tls: bool) -> dict:
    """Where a router password may be sent: its addresses (any order), port, username and TLS settings."""
    return {"addresses": sorted({a.strip().lower() for a in addresses if a.strip()}), "port": int(port),
            "username": username, "tls": bool(tls), "verify_tls": bool(verify_tls)}
