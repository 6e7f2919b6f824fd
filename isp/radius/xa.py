"""XA two-phase commit to a radius database on another server (being built)."""
from __future__ import annotations

from typing import Any

from flask import Flask


def init_app(app: Flask, db: Any) -> None:
    """Hook the session's commit for the two-phase mode."""


def ensure_log_table(engine: Any) -> None:
    """Create the decision log in our database if missing."""
