"""Onboarding in the browser: the admin-only, uncached script page and download, Onboard, Check, the hub settings."""
from __future__ import annotations

import logging

from sqlalchemy import select

from isp.crypto import decrypt
from isp.extensions import db
from isp.models import Branding, CommandState, Router, RouterCommand
from isp.services import onboarding
from tests.conftest import SIM_PASSWORD, run_worker
from tests.onboarding.conftest import HUB_PUBLIC

HX = {"HX-Request": "true"}


def _form(token: str, **fields) -> dict:
    data = {"csrf_token": token, "name": "edge-1", "addresses": "192.168.88.1", "api_port": "8728",
            "username": "isp-panel", "password": "", "mode": "radius", "site": "", "notes": "", "enabled": "y",
            "max_sessions": "20"}
    data.update(fields)
    return data


def _secrets(app, router_id: int) -> list[str]:
    with app.app_context():
        router = db.session.get(Router, router_id)
        return [onboarding.radius_secret(router), onboarding.private_key(router), decrypt(router.password_encrypted)]


def _add_router(client, auth, **fields) -> int:
    response = client.post("/routers/new", data=_form(auth.token(), **fields))
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rstrip("/").split("/")[-1])


def _hub(app, **fields) -> None:
    with app.app_context():
        from isp.services import branding

        settings = branding.get()
        settings.hub_endpoint, settings.hub_public_key = "vpn.example.net:51820", HUB_PUBLIC
        for name, value in fields.items():
            setattr(settings, name, value)
        db.session.commit()


def test_admin_adds_a_router_and_gets_its_script_with_copy_and_download(app, client, auth, caplog):
    caplog.set_level(logging.DEBUG)
    _hub(app)
    auth.login_as("admin")
    router_id = _add_router(client, auth, name="Edge North")
    secrets = _secrets(app, router_id)
    detail = client.get(f"/routers/{router_id}").get_data(as_text=True)
    assert "Onboarded" in detail and "<code>10.100.0.2</code>" in detail and "Setup script" in detail
    page = client.get(f"/routers/{router_id}/onboarding")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "no-store" in page.headers["Cache-Control"]
    assert 'id="setup-script"' in html and 'data-copy="#setup-script"' in html and "js/copy.js" in html
    assert '<script src="http' not in html and "cdn" not in html.lower()  # vendored scripts only
    assert "[Peer]" in html and "AllowedIPs = 10.100.0.2/32" in html
    with app.app_context():
        router = db.session.get(Router, router_id)
        script = onboarding.setup_script(router)
    assert all(secret in script for secret in secrets)
    download = client.get(f"/routers/{router_id}/setup.rsc")
    assert download.status_code == 200 and download.get_data(as_text=True) == script
    assert download.headers["Content-Disposition"] == 'attachment; filename="Edge-North.rsc"'
    assert "no-store" in download.headers["Cache-Control"] and download.mimetype == "text/plain"
    # Secrets appear on the script page and in the download only: not on the router page, not in any log line.
    for other in (detail, client.get(f"/routers/{router_id}/edit").get_data(as_text=True),
                  client.get("/routers/").get_data(as_text=True)):
        assert not any(secret in other for secret in secrets)
    assert not any(secret in caplog.text for secret in secrets)


def test_operator_sees_the_tunnel_but_not_the_script(app, client, auth):
    _hub(app)
    auth.login_as("operator")
    router_id = _add_router(client, auth)
    detail = client.get(f"/routers/{router_id}").get_data(as_text=True)
    assert "10.100.0.2" in detail and "Check over the tunnel" in detail and "Setup script" not in detail
    assert client.get(f"/routers/{router_id}/onboarding", headers=HX).status_code == 403
    assert client.get(f"/routers/{router_id}/setup.rsc", headers=HX).status_code == 403
    assert not any(secret in detail for secret in _secrets(app, router_id))


def test_script_page_names_missing_hub_settings(app, client, auth):
    auth.login_as("admin")
    router_id = _add_router(client, auth)
    html = client.get(f"/routers/{router_id}/onboarding").get_data(as_text=True)
    assert "The setup script needs the hub endpoint" in html and 'id="setup-script"' not in html
    response = client.get(f"/routers/{router_id}/setup.rsc")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/routers/{router_id}/onboarding")


def test_onboard_button_allocates_for_a_router_added_before(app, client, auth, make_router):
    legacy = make_router(mode="api")
    with app.app_context():  # as if added before onboarding existed
        router = db.session.get(Router, legacy.id)
        router.tunnel_address, router.wg_public_key, router.radius_secret_encrypted = None, "", ""
        db.session.commit()
    auth.login_as("admin")
    assert "Not onboarded" in client.get(f"/routers/{legacy.id}").get_data(as_text=True)
    response = client.post(f"/routers/{legacy.id}/onboard", data={"csrf_token": auth.token()})  # unticked: keep login
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/routers/{legacy.id}/onboarding")
    with app.app_context():
        router = db.session.get(Router, legacy.id)
        assert router.tunnel_address == "10.100.0.2" and router.username == "admin"
        assert decrypt(router.password_encrypted) == SIM_PASSWORD and router.addresses == ["127.0.0.1"]
    again = client.post(f"/routers/{legacy.id}/onboard", data={"csrf_token": auth.token()}, follow_redirects=True)
    assert "already onboarded" in again.get_data(as_text=True)


def test_check_puts_the_tunnel_first_and_probes_through_the_pool(app, client, auth, sim, make_router):
    """Range 127.0.0.0/30 with the hub on .2 hands out 127.0.0.1, where the simulator listens: a real probe."""
    _hub(app, tunnel_range="127.0.0.0/30", hub_tunnel_address="127.0.0.2")
    router = make_router(sim.routers[0], addresses="localhost")
    with app.app_context():
        stored = db.session.get(Router, router.id)
        assert stored.tunnel_address == "127.0.0.1" and stored.addresses == ["localhost"]
    auth.login_as("operator")
    response = client.post(f"/routers/{router.id}/check", data={"csrf_token": auth.token()}, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="router-test"' in html and "Waiting for a worker" in html
    with app.app_context():
        stored = db.session.get(Router, router.id)
        assert stored.addresses == ["127.0.0.1", "localhost"]  # the tunnel address first, password re-sealed
        command = db.session.scalar(select(RouterCommand).where(RouterCommand.router_id == router.id))
        assert command.operation == "router.test" and command.state == CommandState.pending  # queued, no I/O yet
    run_worker(app, promote_scheduled=False)
    poll = f"/routers/{router.id}/test/{command.id}"
    answer = client.get(poll, headers=HX).get_data(as_text=True)
    assert "Connected" in answer and '<code data-test="connected-via">127.0.0.1</code>' in answer  # the tunnel answered
    assert "not the tunnel address" not in answer


def test_hub_settings_save_and_explain_bad_values(app, client, auth):
    auth.login_as("admin")
    page = client.get("/settings/").get_data(as_text=True)
    assert "WireGuard hub" in page and 'action="/settings/hub"' in page
    good = {"csrf_token": auth.token(), "hub_endpoint": "VPN.example.net:51820", "hub_public_key": HUB_PUBLIC,
            "hub_tunnel_address": "10.100.0.1", "tunnel_range": "10.100.0.0/16", "tunnel_reserved": "10.100.0.9 10.100.1.0/24",
            "radius_server_address": "", "panel_address": "10.100.0.1"}
    assert client.post("/settings/hub", data=good).status_code == 302
    with app.app_context():
        settings = db.session.get(Branding, 1)
        assert settings.hub_endpoint == "vpn.example.net:51820" and settings.tunnel_reserved == "10.100.0.9, 10.100.1.0/24"
    cases = {
        "hub_public_key": ("abc", "is not a WireGuard key"),
        "hub_endpoint": ("vpn.example.net", "must be host:port"),
        "tunnel_range": ("10.100.0.5/16", "has host bits set: did you mean 10.100.0.0/16?"),
        "hub_tunnel_address": ("10.200.0.1", "must be a host address inside the tunnel range"),
        "tunnel_reserved": ("10.100.0.x", "is not an IPv4 address or block"),
    }
    for field, (value, message) in cases.items():
        response = client.post("/settings/hub", data={**good, "csrf_token": auth.token(), field: value})
        assert response.status_code == 422 and message in response.get_data(as_text=True).replace("&#39;", "'"), field


def test_hub_settings_refuse_stranding_onboarded_routers(app, client, auth):
    auth.login_as("admin")
    _add_router(client, auth)  # 10.100.0.2
    data = {"csrf_token": auth.token(), "hub_endpoint": "", "hub_public_key": "", "hub_tunnel_address": "10.200.0.1",
            "tunnel_range": "10.200.0.0/24", "tunnel_reserved": "", "radius_server_address": "", "panel_address": ""}
    response = client.post("/settings/hub", data=data)
    assert response.status_code == 422 and "edge-1 (10.100.0.2)" in response.get_data(as_text=True)
    # Reserving the address a router holds strands nothing: only the allocator stops handing it out.
    data.update(hub_tunnel_address="10.100.0.1", tunnel_range="10.100.0.0/16", tunnel_reserved="10.100.0.2")
    assert client.post("/settings/hub", data=data).status_code == 302


def test_onboarding_routes_refuse_resellers_and_need_csrf(app, client, auth, make_router):
    router = make_router()
    auth.login_as("reseller")
    for url in (f"/routers/{router.id}/onboarding", f"/routers/{router.id}/setup.rsc"):
        assert client.get(url, headers=HX).status_code == 403
    assert client.post(f"/routers/{router.id}/check", headers=HX).status_code in (400, 403)
    auth.logout()
    auth.login_as("admin")
    assert client.post(f"/routers/{router.id}/onboard").status_code == 400  # no CSRF token


def test_new_radius_secret_reaches_the_nas_row_and_the_script(app, client, auth):
    from isp.radius.models import Nas

    _hub(app)
    auth.login_as("admin")
    router_id = _add_router(client, auth)
    old = _secrets(app, router_id)[0]
    assert 'data-test="rotate-secret"' in client.get(f"/routers/{router_id}/onboarding").get_data(as_text=True)
    response = client.post(f"/routers/{router_id}/radius-secret", data={"csrf_token": auth.token()})
    assert response.status_code == 302
    new = _secrets(app, router_id)[0]
    assert new != old and len(new) >= 24
    with app.app_context():
        assert db.session.scalar(select(Nas.secret)) == new
    assert f'secret="{new}"' in client.get(f"/routers/{router_id}/setup.rsc").get_data(as_text=True)
