"""The router page's charts are told the operator's zone, so their times match the rest of the panel."""
from __future__ import annotations

import re

import pytest


@pytest.mark.parametrize("tz", ["America/Los_Angeles", "Africa/Nairobi"])
def test_the_graph_panel_carries_the_operators_timezone(app, client, auth, make_router, tz):
    app.config["ISP_TIMEZONE"] = tz
    router = make_router()
    auth.login_as("operator")
    html = client.get(f"/routers/{router.id}").get_data(as_text=True)
    panel = re.search(r'<section class="panel rm" id="router-graphs"[^>]*>', html).group(0)
    assert f'data-tz="{tz}"' in panel
