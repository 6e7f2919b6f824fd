"""The log panel asked for without htmx redirects to the router page, keeping only the log's own filters."""
from __future__ import annotations


def test_the_log_without_htmx_redirects_keeping_only_its_own_filters(app, client, auth, make_router):
    router = make_router()
    auth.login_as("operator")
    response = client.get(f"/routers/{router.id}/log?router_id=1&q=dhcp&topic=system&page=2&evil=x")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.endswith("#router-log") and f"/routers/{router.id}?" in location
    assert "q=dhcp" in location and "topic=system" in location and "page=2" in location
    assert "evil" not in location and "router_id" not in location
