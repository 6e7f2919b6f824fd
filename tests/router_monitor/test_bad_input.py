"""Hostile graph windows on the router page are a 400 that says why (or clamped), never a 500."""
from __future__ import annotations

import time

import pytest

BIG = 10**20


@pytest.mark.parametrize("query", [f"start={BIG}&end={BIG + 100}", f"start={BIG}", f"start=-{BIG}&end=-{BIG - 100}",
                                   f"start={int(time.time()) + 86400}&end={int(time.time()) + 90000}"])
def test_a_window_starting_in_the_future_or_out_of_range_is_a_400(app, client, auth, make_router, query):
    router = make_router()
    auth.login_as("operator")
    response = client.get(f"/routers/{router.id}/graph.json?series=system&{query}")
    assert response.status_code == 400
    assert response.get_json()["error"] == "start must be a moment in the past (epoch seconds, UTC)."


def test_an_end_far_in_the_future_is_clamped_to_now(app, client, auth, make_router):
    router = make_router()
    auth.login_as("operator")
    now = int(time.time())
    response = client.get(f"/routers/{router.id}/graph.json?series=system&start={now - 3600}&end={BIG}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["start"] == now - 3600 and now <= body["end"] <= now + 120
