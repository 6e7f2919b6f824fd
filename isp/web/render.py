"""The one rendering helper: a full page, or its named block for htmx."""
from __future__ import annotations

from flask import Response, make_response, render_template, request
from jinja2_fragments.flask import render_block


def render(template: str, block: str | None = None, status: int = 200, **ctx: object) -> Response:
    """Render the page, or only `block` for a non-boosted htmx request; always Vary on HX-Request."""
    htmx = request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"
    if block and htmx:
        body = render_block(template, block, **ctx)
    else:
        body = render_template(template, **ctx)
    response = make_response(body, status)
    response.headers["Vary"] = "HX-Request"
    return response
