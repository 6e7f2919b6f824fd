"""The JSON API, /api/v1: flask-smorest (OpenAPI 3 from marshmallow schemas), token auth, RFC 9457 errors.

init_api(app) is called by isp.web.init_web. Resources live one module per domain in this package.
"""
from __future__ import annotations

from flask import Flask


def init_api(app: Flask) -> None:
    """Register the API (built by the API work)."""
