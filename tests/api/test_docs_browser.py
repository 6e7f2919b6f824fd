"""The docs page renders the spec in a real browser under the app's CSP, with no console or CSP errors."""
from __future__ import annotations

import pytest

from tests.browser.conftest import browser, live_server, page  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


def test_docs_page_renders_operations(live_server, page):  # noqa: F811
    problems = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda err: problems.append(str(err)))
    page.goto(live_server + "/api/v1/docs")
    page.wait_for_selector("#tag-vouchers")
    text = page.inner_text("#api-docs-body")
    assert "/api/v1/batches" in text and "Idempotency-Key" in text and "BatchCreate" in text
    assert page.locator("section.card").count() > 20
    assert problems == []
