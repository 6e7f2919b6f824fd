"""Pool monitor: circuits per router, the polled fragment, dead-letter retry/discard, admin pool reset."""
from __future__ import annotations

import re

from isp.extensions import db, redis_store
from isp.models import CommandState, Router, RouterCommand
from isp.routeros.breaker import CircuitBreaker
from isp.routeros.pool import GENERATION_KEY
from isp.services import outbox

HX = {"HX-Request": "true"}


def _row(html: str, name: str) -> str:
    """The table row of a router on the monitor."""
    match = re.search(rf"<tr>\s*<td data-label=\"Router\"[^>]*><a [^>]*>{re.escape(name)}</a>.*?</tr>", html, re.S)
    assert match, f"{name} is not listed"
    return match.group(0)


def _dead_command(app, router_id: int, key: str = "hu:alice") -> int:
    """A command that ran out of attempts."""
    with app.app_context():
        command = outbox.queue_command(db.session.get(Router, router_id), "hotspot_user.ensure", key,
                                       {"attrs": {"name": "alice"}}, enqueue=False)
        command.state, command.attempts, command.open_key = CommandState.dead, 8, None
        command.last_error = "timeout: no answer in 5.0 s"
        db.session.commit()
        return command.id


def _state(app, command_id: int) -> CommandState:
    with app.app_context():
        return db.session.get(RouterCommand, command_id).state


def test_monitor_lists_each_router_with_its_circuit_state(app, client, auth, make_router):
    healthy, broken = make_router(name="healthy-gw"), make_router(name="broken-gw")
    app.config["BREAKER_COOLDOWN"] = 60  # the circuit must still be open when the page is read, however slow the login
    with app.app_context():
        breaker = CircuitBreaker.from_config(redis_store.client, app.config)
        for _ in range(app.config["BREAKER_THRESHOLD"]):
            breaker.failure(broken.id, "refused: connection refused")
    auth.login_as("operator")
    html = client.get("/monitoring/").get_data(as_text=True)
    assert 'badge-ok">Closed' in _row(html, healthy.name)
    assert 'badge-bad">Open' in _row(html, broken.name)
    assert "0 open · 0 in use" in _row(html, healthy.name)
    assert all(f'data-test="queue-{q}"' in html for q in ("critical", "high", "normal", "low", "bulk"))
    assert "Workers alive" in html and 'hx-trigger="every 2s"' in html


def test_the_polled_live_block_is_a_fragment(client, auth, make_router):
    router = make_router(name="edge-7")
    auth.login_as("admin")
    response = client.get("/monitoring/", headers={**HX, "HX-Target": "live"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and "<h2>Dead letters</h2>" not in html and "Reset pool" not in html
    assert "edge-7" in html and 'href="/routers/%d"' % router.id in html
    assert "HX-Request" in response.headers["Vary"]


def test_retry_and_discard_change_a_dead_command(app, client, auth, make_router):
    router = make_router(name="flaky-gw")
    command_id = _dead_command(app, router.id)
    auth.login_as("operator")
    page = client.get("/monitoring/").get_data(as_text=True)
    assert "timeout: no answer in 5.0 s" in page and f"/monitoring/commands/{command_id}/retry" in page
    retried = client.post(f"/monitoring/commands/{command_id}/retry", data={"csrf_token": auth.token()}, follow_redirects=True)
    assert f"Command #{command_id} is queued again." in retried.get_data(as_text=True)
    assert _state(app, command_id) == CommandState.pending
    assert f"/monitoring/commands/{command_id}/retry" not in retried.get_data(as_text=True)
    again = client.post(f"/monitoring/commands/{command_id}/discard", data={"csrf_token": auth.token()}, follow_redirects=True)
    assert "only dead commands can be discarded" in again.get_data(as_text=True)  # it is pending now
    other = _dead_command(app, router.id, key="hu:bob")
    discarded = client.post(f"/monitoring/commands/{other}/discard", data={"csrf_token": auth.token()}, follow_redirects=True)
    assert f"Command #{other} is discarded." in discarded.get_data(as_text=True)
    assert _state(app, other) == CommandState.discarded


def test_dead_letters_paginate_as_a_fragment(app, client, auth, make_router):
    app.config["PAGE_SIZE"] = 5
    router = make_router()
    ids = [_dead_command(app, router.id, key=f"hu:{n}") for n in range(7)]
    auth.login_as("operator")
    fragment = client.get("/monitoring/?page=2", headers={**HX, "HX-Target": "dead-letters"}).get_data(as_text=True)
    assert "<html" not in fragment and "Workers alive" not in fragment and "Page 2 of 2" in fragment
    assert f"/monitoring/commands/{ids[0]}/retry" in fragment and f"/monitoring/commands/{ids[-1]}/retry" not in fragment


def test_reset_pool_is_admin_only_and_bumps_the_generation(app, client, auth, make_router):
    router = make_router()
    with app.app_context():
        breaker = CircuitBreaker.from_config(redis_store.client, app.config)
        for _ in range(app.config["BREAKER_THRESHOLD"]):
            breaker.failure(router.id, "timeout")
    redis = app.config["REDIS_CLIENT"]
    auth.login_as("operator")
    assert 'data-test="reset-pool"' not in client.get("/monitoring/").get_data(as_text=True)
    refused = client.post("/monitoring/reset-pool", data={"csrf_token": auth.token()})
    assert refused.status_code == 302 and redis.get(GENERATION_KEY) is None
    auth.logout()
    auth.login_as("admin")
    assert 'data-test="reset-pool"' in client.get("/monitoring/").get_data(as_text=True)
    done = client.post("/monitoring/reset-pool", data={"csrf_token": auth.token()}, follow_redirects=True)
    assert "Pool reset (generation 1)" in done.get_data(as_text=True)
    assert int(redis.get(GENERATION_KEY)) == 1
    assert 'badge-ok">Closed' in _row(done.get_data(as_text=True), router.name)


def test_reseller_cannot_see_the_monitor(client, auth):
    auth.login_as("reseller")
    assert client.get("/monitoring/", headers=HX).status_code == 403
    assert client.get("/monitoring/").status_code == 302


def test_staff_navigation_links_routers_and_monitoring(client, auth):
    auth.login_as("operator")
    page = client.get("/").get_data(as_text=True)
    assert 'href="/routers/"' in page and 'href="/monitoring/"' in page
    assert 'class="soon"' not in page  # every domain in the navigation is built
    assert 'href="/customers/"' in page and 'href="/customers/services"' in page and 'href="/billing/"' in page
