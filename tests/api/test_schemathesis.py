"""Schemathesis against the live spec, in-process: every operation with a bounded number of generated requests.

An admin token with every scope, a small shop in the database (so generated ids sometimes hit real rows), and two
checks on every answer: never a 5xx, and the body matches what the spec documents for that status.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

MAX_EXAMPLES = 20


@pytest.fixture
def api_schema(app, make_token, shop):
    """The app's own OpenAPI document, loaded through the WSGI app."""
    app.config["API_RATE_LIMIT"] = "1000000 per minute"
    token = make_token("admin", ("admin",))
    app.config["_SCHEMATHESIS_TOKEN"] = token.raw
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_spec(case, app):
    case.call_and_validate(headers={"Authorization": f"Bearer {app.config['_SCHEMATHESIS_TOKEN']}"},
                           checks=[not_a_server_error, response_schema_conformance, content_type_conformance])
