"""Encryption of secrets at rest (router passwords) with Fernet from ISP_ENCRYPTION_KEY."""
from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app


def _fernet() -> Fernet:
    return Fernet(current_app.config["ISP_ENCRYPTION_KEY"].encode())


def encrypt(plaintext: str) -> str:
    """Encrypt a secret; the token is ASCII, safe for a Text column."""
    return _fernet().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    """Decrypt a secret; raises ValueError if the key changed or the token is corrupt."""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError):
        raise ValueError("stored secret cannot be decrypted: was ISP_ENCRYPTION_KEY changed?") from None
