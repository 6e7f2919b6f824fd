"""The OpenAPI document is valid OpenAPI 3.0 and the browsable page loads with the app's CSP (no CDN, no inline script)."""
from __future__ import annotations

import re


def test_openapi_document_is_valid(client):
    from schemathesis.specs.openapi.definitions import OPENAPI_30_VALIDATOR

    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    spec = response.get_json()
    errors = [str(e) for e in OPENAPI_30_VALIDATOR.iter_errors(spec)]
    assert errors == []
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert {"/api/v1/vouchers", "/api/v1/batches", "/api/v1/plans", "/api/v1/routers/{router_id}/status"} <= set(spec["paths"])
    problem = spec["components"]["responses"]["UNPROCESSABLE_ENTITY"]["content"]
    assert list(problem) == ["application/problem+json"]
    post = spec["paths"]["/api/v1/batches"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in post["parameters"])


def test_docs_page_loads_its_own_script(client):
    response = client.get("/api/v1/docs")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "isp API v1" in page
    scripts = re.findall(r"<script[^>]*>", page)
    assert scripts and all('src="/static/' in s for s in scripts)  # vendored, no CDN and no inline code
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    script = client.get("/static/js/api-docs.js")
    assert script.status_code == 200 and b"textContent" in script.data and b"innerHTML" not in script.data
    assert 'id="problem-validation"' in page  # the problem `type` URIs point at these anchors
