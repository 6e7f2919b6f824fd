"""The open list's 10-s refresh stays on the page the operator is reading."""
from __future__ import annotations

import html
import re


def _poll_url(page: str) -> str:
    [url] = re.findall(r'id="alert-list" data-poll hx-get="([^"]+)"', page)
    return html.unescape(url)


def test_the_open_lists_poll_keeps_the_current_page_and_filters(app, client, auth, make_rule, make_alert):
    app.config["PAGE_SIZE"] = 2
    rule = make_rule()
    for _ in range(5):
        make_alert(rule, severity="critical")
    auth.login_as("operator")
    second = client.get("/alerts/?page=2&severity=critical").get_data(as_text=True)
    assert "page=2" in _poll_url(second) and "severity=critical" in _poll_url(second)
    assert "alert 3" in second and "alert 5" not in second  # newest first: page 2 holds alerts 3 and 2
    polled = client.get(_poll_url(second), headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "alert 3" in polled and "alert 5" not in polled  # the refresh shows the same page
    first = client.get("/alerts/").get_data(as_text=True)
    assert "page=" not in _poll_url(first)
