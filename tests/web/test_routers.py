"""Routers pages: create/edit with validation, secrets never shown, list, roles, delete, connection test."""
from __future__ import annotations

import re
import socket
import threading

from sqlalchemy import text

from isp.crypto import decrypt, encrypt
from isp.extensions import db
from isp.models import Router
from isp.routeros.client import RouterSpec
from isp.services import outbox
from tests.conftest import SIM_PASSWORD, run_worker

HX = {"HX-Request": "true"}


def _form(token: str, **fields) -> dict:
    data = {"csrf_token": token, "name": "core-1", "addresses": "10.100.0.2\n192.168.88.1", "api_port": "8728",
            "username": "api-user", "password": "Sup3r-Secret!", "mode": "api", "site": "North", "notes": "",
            "enabled": "y", "max_sessions": "20"}
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def _router(app, router_id: int) -> Router | None:
    with app.app_context():
        router = db.session.get(Router, router_id)
        if router is not None:
            db.session.expunge(router)
        return router


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(Router))


def test_created_router_stores_the_password_encrypted_and_no_page_shows_it(app, client, auth):
    auth.login_as("operator")
    response = client.post("/routers/new", data=_form(auth.token()))
    assert response.status_code == 302
    router_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    stored = _router(app, router_id)
    with app.app_context():
        assert stored.password_encrypted != "Sup3r-Secret!" and decrypt(stored.password_encrypted) == "Sup3r-Secret!"
    pages = [client.get(url).get_data(as_text=True) for url in
             (response.headers["Location"], f"/routers/{router_id}/edit", "/routers/", "/monitoring/")]
    pages.append(client.post(f"/routers/{router_id}/test", headers={**HX, "X-CSRFToken": auth.token()}).get_data(as_text=True))
    assert "Router &#39;core-1&#39; added." in pages[0] and "10.100.0.2" in pages[0]
    for html in pages:
        assert "Sup3r-Secret!" not in html and stored.password_encrypted not in html
        assert stored.password_encrypted[:20] not in html  # not even a prefix of the Fernet token


def test_create_shows_each_service_error_on_its_field_with_422(app, client, auth, make_router):
    auth.login_as("admin")
    make_router(name="taken")
    token = auth.token()
    cases = {
        "'300.1.1.999' is not an IP address or host name.": {"addresses": "300.1.1.999"},
        "A router named &#39;TAKEN&#39; already exists.": {"name": "TAKEN"},
        "API port must be between 1 and 65535.": {"api_port": "70000"},
        "RADIUS incoming port must be between 1 and 65535 (RouterOS: 3799).": {"radius_incoming_port": "0"},
        # A blank password means "generate the login" (onboarding), which cannot be admin's.
        "Choose another API username, such as isp-panel": {"username": "admin", "password": ""},
    }
    for message, fields in cases.items():
        response = client.post("/routers/new", data=_form(token, **fields))
        html = response.get_data(as_text=True)
        assert response.status_code == 422, message
        assert "Sup3r-Secret!" not in html  # a failed form never echoes the password back
        field = next(iter(fields))
        # The message sits inside the offending field's block, which is marked as an error.
        block = re.search(rf'<div class="field has-error">\s*<label class="label" for="{field}">.*?</div>', html, re.S)
        assert block and message.replace("'300", "&#39;300").replace("999'", "999&#39;") in block.group(0), message
    assert _count(app) == 1


def test_the_radius_incoming_port_is_kept_for_disconnect_and_coa(app, client, auth):
    auth.login_as("admin")
    response = client.post("/routers/new", data=_form(auth.token(), mode="radius", radius_incoming_port="1700"))
    router_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    with app.app_context():
        from isp.radius import coa

        assert coa.target_for(db.session.get(Router, router_id)).port == 1700  # where a Disconnect is sent
    assert 'value="1700"' in client.get(f"/routers/{router_id}/edit").get_data(as_text=True)


def test_edit_with_a_blank_password_keeps_the_stored_one(app, client, auth, make_router):
    auth.login_as("operator")
    router = make_router(site="North")
    page = client.get(f"/routers/{router.id}/edit").get_data(as_text=True)
    assert "Leave blank to keep the stored password." in page and 'name="password" type="password" value=""' in page
    token = auth.token()
    # Same endpoint as make_router saved (only the site changes): the stored password may stay.
    same = {"addresses": "127.0.0.1", "api_port": "1", "username": "admin"}
    response = client.post(f"/routers/{router.id}/edit", data=_form(token, name=router.name, password="", site="South", **same))
    assert response.status_code == 302
    with app.app_context():
        stored = db.session.get(Router, router.id)
        assert stored.site == "South" and decrypt(stored.password_encrypted) == SIM_PASSWORD
    client.post(f"/routers/{router.id}/edit", data=_form(token, name=router.name, password="a-new-one"))
    with app.app_context():
        assert decrypt(db.session.get(Router, router.id).password_encrypted) == "a-new-one"


def test_changing_where_a_router_is_reached_needs_the_password_again(app, client, auth, make_router):
    auth.login_as("operator")
    router = make_router()
    token = auth.token()
    same = {"name": router.name, "addresses": "127.0.0.1", "api_port": "1", "username": "admin", "password": ""}
    for change in ({"addresses": "203.0.113.9"}, {"addresses": "127.0.0.1 203.0.113.9"}, {"api_port": "8728"},
                   {"username": "other"}, {"use_tls": "y"}):
        response = client.post(f"/routers/{router.id}/edit", data=_form(token, **{**same, **change}))
        html = response.get_data(as_text=True)
        assert response.status_code == 422, change
        block = re.search(r'<div class="field has-error">\s*<label class="label" for="password">.*?</div>', html, re.S)
        assert block and "Re-enter the API password" in block.group(0), change
    stored = _router(app, router.id)
    assert (stored.addresses, stored.api_port, stored.username, stored.use_tls) == (["127.0.0.1"], 1, "admin", False)
    # Re-entering the password saves the new endpoint, and the password is bound to it.
    moved = {**same, "api_port": "8728", "password": "p4ss-w0rd"}
    response = client.post(f"/routers/{router.id}/edit", data=_form(token, **moved))
    assert response.status_code == 302
    with app.app_context():
        spec = RouterSpec.from_model(db.session.get(Router, router.id))
        assert (spec.port, spec.password) == (8728, "p4ss-w0rd")


def test_a_stored_password_is_never_sent_to_an_address_it_was_not_saved_with(app, client, auth, sim, make_router):
    router = make_router(sim.routers[0])
    # An attacker's listener; the row is pointed at it behind the form's back (e.g. a bad import or SQL).
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.2)
    seen: list[bytes] = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conn.settimeout(0.5)
            try:
                seen.append(conn.recv(4096))
            except OSError:
                seen.append(b"")
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        with app.app_context():
            db.session.execute(text("UPDATE routers SET api_port = :p WHERE id = :id"),
                               {"p": listener.getsockname()[1], "id": router.id})
            db.session.commit()
        auth.login_as("operator")
        poll = _start_test(client, auth, router.id)
        run_worker(app, promote_scheduled=False)
        html = client.get(poll, headers=HX).get_data(as_text=True)
    finally:
        stop.set()
        thread.join(2)
        listener.close()
    assert seen == []  # the worker never even connected, so no password left the panel
    assert "Failed" in html and "credentials are bound to another address; re-enter the password" in html


def test_a_password_saved_before_binding_still_works_and_is_bound_on_the_next_save(app, client, auth, sim, make_router):
    router = make_router(sim.routers[0])
    with app.app_context():
        db.session.execute(text("UPDATE routers SET password_encrypted = :t WHERE id = :id"),
                           {"t": encrypt(SIM_PASSWORD), "id": router.id})  # the pre-binding token format
        db.session.commit()
        assert RouterSpec.from_model(db.session.get(Router, router.id)).password == SIM_PASSWORD
    auth.login_as("operator")
    poll = _start_test(client, auth, router.id)
    run_worker(app, promote_scheduled=False)
    assert "Connected" in client.get(poll, headers=HX).get_data(as_text=True)
    # An edit that keeps the endpoint re-seals the legacy token with its binding; moving it then needs the password.
    same = {"name": router.name, "addresses": "127.0.0.1", "api_port": str(sim.routers[0].port), "username": "admin",
            "password": ""}
    assert client.post(f"/routers/{router.id}/edit", data=_form(auth.token(), **same, site="East")).status_code == 302
    with app.app_context():
        stored = db.session.get(Router, router.id)
        assert stored.site == "East" and decrypt(stored.password_encrypted) == SIM_PASSWORD
        stored.api_port = 1
        try:
            RouterSpec.from_model(stored)
            raise AssertionError("a moved router must not get the stored password")
        except ValueError as err:
            assert "re-enter the password" in str(err)
        db.session.rollback()


def test_list_filters_in_sql_and_paginates(app, client, auth, make_router):
    app.config["PAGE_SIZE"] = 5
    auth.login_as("operator")
    for n in range(7):
        make_router(name=f"north-{n}", site="North")
    make_router(name="south-gw", site="South", enabled=False)
    page = client.get("/routers/?site=North").get_data(as_text=True)
    assert "north-0" in page and "south-gw" not in page and "Page 1 of 2 · 7 items" in page
    assert "north-6" in client.get("/routers/?site=North&page=2").get_data(as_text=True)
    disabled = client.get("/routers/?status=disabled").get_data(as_text=True)
    assert "south-gw" in disabled and "north-0" not in disabled and "Disabled</span>" in disabled
    fragment = client.get("/routers/?q=SOUTH", headers=HX)
    body = fragment.get_data(as_text=True)
    assert "south-gw" in body and "north-1" not in body and "<html" not in body
    assert "HX-Request" in fragment.headers["Vary"]
    assert "Never contacted" in client.get("/routers/?q=north-1").get_data(as_text=True)


def test_reseller_is_refused_routers(client, auth, make_router):
    router = make_router()
    auth.login_as("reseller")
    assert client.get("/routers/", headers=HX).status_code == 403
    assert client.get(f"/routers/{router.id}", headers=HX).status_code == 403
    page = client.get("/routers/")
    assert page.status_code == 302 and page.headers["Location"] == "/"
    assert router.name not in client.get("/").get_data(as_text=True)


def test_delete_is_refused_with_unfinished_commands_until_an_admin_forces_it(app, client, auth, make_user, make_router):
    router = make_router(name="busy-gw")
    with app.app_context():
        outbox.queue_command(db.session.get(Router, router.id), "router.test", "test:pending", {}, enqueue=False)
        db.session.commit()
    auth.login_as("operator")
    page = client.get(f"/routers/{router.id}").get_data(as_text=True)
    assert 'name="force"' not in page  # only admins may force
    unconfirmed = client.post(f"/routers/{router.id}/delete", data={"csrf_token": auth.token()}, follow_redirects=True)
    assert "Tick the confirmation box" in unconfirmed.get_data(as_text=True)
    refused = client.post(f"/routers/{router.id}/delete", data={"csrf_token": auth.token(), "confirm": "y", "force": "y"},
                          follow_redirects=True)
    assert "&#39;busy-gw&#39; still has 1 unfinished commands." in refused.get_data(as_text=True)
    assert _router(app, router.id) is not None
    auth.logout()
    auth.login_as("admin")
    assert 'name="force"' in client.get(f"/routers/{router.id}").get_data(as_text=True)
    done = client.post(f"/routers/{router.id}/delete", data={"csrf_token": auth.token(), "confirm": "y", "force": "y"},
                       follow_redirects=True)
    assert "Router &#39;busy-gw&#39; deleted." in done.get_data(as_text=True)
    assert _router(app, router.id) is None


def _start_test(client, auth, router_id: int) -> str:
    """Press 'Test connection'; returns the URL the widget polls."""
    response = client.post(f"/routers/{router_id}/test", headers={**HX, "X-CSRFToken": auth.token()})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert "Waiting for a worker" in html and 'hx-trigger="every 1s"' in html and 'hx-swap="outerHTML"' in html
    return re.search(r'hx-get="([^"]+)"', html).group(1)


def test_connection_test_shows_identity_and_version_after_a_worker_runs_it(app, client, auth, sim, make_router):
    router = make_router(sim.routers[0])
    auth.login_as("operator")
    poll = _start_test(client, auth, router.id)
    assert "Waiting for a worker" in client.get(poll, headers=HX).get_data(as_text=True)
    run_worker(app)
    html = client.get(poll, headers=HX).get_data(as_text=True)
    assert "Connected" in html and "every 1s" not in html  # finished: the widget stops polling
    assert sim.routers[0].state.identity in html and sim.routers[0].config.version in html
    detail = client.get(f"/routers/{router.id}").get_data(as_text=True)
    assert f"RouterOS {sim.routers[0].config.version}" in detail and "router.test" in detail


def test_connection_test_with_a_wrong_password_shows_the_login_refusal(app, client, auth, sim, make_router):
    router = make_router(sim.routers[0], password="not-the-password")
    auth.login_as("operator")
    poll = _start_test(client, auth, router.id)
    run_worker(app, promote_scheduled=False)
    html = client.get(poll, headers=HX).get_data(as_text=True)
    assert "Failed" in html and "auth: login refused" in html and "every 1s" not in html


def test_connection_test_of_a_down_router_shows_connection_refused(app, client, auth, sim, make_router):
    router = make_router(sim.routers[1])
    sim.routers[1].faults.down = True
    auth.login_as("operator")
    poll = _start_test(client, auth, router.id)
    run_worker(app, promote_scheduled=False)
    html = client.get(poll, headers=HX).get_data(as_text=True)
    assert "Failed" in html and "refused" in html
    assert "Offline" in client.get("/routers/").get_data(as_text=True)
    # A connection test is a probe: it answered, so nothing waits in Monitoring for Retry or Discard.
    monitoring = client.get("/monitoring/").get_data(as_text=True)
    assert "router.test" not in monitoring
    with app.app_context():
        from isp.extensions import db as _db
        from isp.models import CommandState, RouterCommand

        states = set(_db.session.scalars(_db.select(RouterCommand.state).where(RouterCommand.operation == "router.test")))
    assert states == {CommandState.discarded}


def test_a_test_result_belongs_to_its_router(app, client, auth, make_router):
    first, second = make_router(), make_router()
    auth.login_as("operator")
    poll = _start_test(client, auth, first.id)
    assert client.get(poll.replace(f"/routers/{first.id}/", f"/routers/{second.id}/")).status_code == 404
    full = client.get(poll).get_data(as_text=True)
    assert "<html" in full and first.name in full and "Waiting for a worker" in full
    boosted = client.get(f"/routers/{first.id}", headers={**HX, "HX-Boosted": "true"})  # a click in the list
    assert boosted.status_code == 200 and "<html" in boosted.get_data(as_text=True)
    # Without htmx the button still works: it lands on the page showing that test.
    plain = client.post(f"/routers/{first.id}/test", data={"csrf_token": auth.token()})
    assert plain.status_code == 302 and re.fullmatch(rf"/routers/{first.id}/test/\d+", plain.headers["Location"])


def _queries(app, client, url: str) -> int:
    """How many SQL statements one GET runs."""
    from sqlalchemy import event

    count = {"n": 0}

    def bump(*_args):
        count["n"] += 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", bump)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", bump)
    return count["n"]


def test_list_and_detail_queries_do_not_grow_with_the_fleet(app, client, auth, make_router):
    auth.login_as("operator")
    first = make_router(site="North")
    for _ in range(2):
        make_router(site="North")
    with app.app_context():
        for n in range(3):
            outbox.queue_command(db.session.get(Router, first.id), "router.test", f"test:{n}", {}, enqueue=False)
        db.session.commit()
    small, small_detail = _queries(app, client, "/routers/"), _queries(app, client, f"/routers/{first.id}")
    for _ in range(12):
        make_router(site="North")
    with app.app_context():
        for n in range(3, 15):
            outbox.queue_command(db.session.get(Router, first.id), "router.test", f"test:{n}", {}, enqueue=False)
        db.session.commit()
    assert _queries(app, client, "/routers/") == small
    assert _queries(app, client, f"/routers/{first.id}") == small_detail


def test_a_router_with_vouchers_made_on_it_is_never_deleted_even_forced(app, client, auth, make_user, make_router,
                                                                         make_plan, generate):
    """Vouchers (and services) are kept for the books and name their router: the delete is refused in words, even
    for an admin forcing it, instead of failing on the database's foreign key with an error page."""
    admin = make_user("admin", username="boss")
    router = make_router(name="with-stock")
    generate(admin.id, make_plan([router.id]).id, 2, router_id=router.id)
    auth.login("boss")
    response = client.post(f"/routers/{router.id}/delete", data={"csrf_token": auth.token(), "confirm": "y", "force": "y"},
                           follow_redirects=True)
    page = response.get_data(as_text=True).replace("&#39;", "'")
    assert response.status_code == 200 and "'with-stock' has 1 voucher batches made on it" in page
    assert _router(app, router.id) is not None


def test_a_parent_router_is_picked_on_the_form_and_shown_on_the_page(app, client, auth, make_router):
    core = make_router(name="core")
    auth.login_as("operator")
    form = client.get("/routers/new").get_data(as_text=True)
    assert f'<option value="{core.id}">core</option>' in form
    response = client.post("/routers/new", data=_form(auth.token(), name="edge-1", parent_id=str(core.id)))
    assert response.status_code == 302
    edge_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    assert _router(app, edge_id).parent_id == core.id
    page = client.get(f"/routers/{edge_id}").get_data(as_text=True)
    assert re.search(rf'data-test="parent"><a href="/routers/{core.id}">core</a>', page)
    edit = client.get(f"/routers/{edge_id}/edit").get_data(as_text=True)
    assert f'<option selected value="{core.id}">core</option>' in edit
    assert f'value="{edge_id}">edge-1</option>' not in edit  # a router is never offered as its own parent


def test_parent_refuses_itself_a_loop_and_a_missing_router(app, client, auth, make_router):
    a, b, c = make_router(name="a"), make_router(name="b"), make_router(name="c")
    auth.login_as("admin")
    keep = {"addresses": "127.0.0.1", "api_port": "1", "username": "admin", "password": SIM_PASSWORD}

    def edit(router, parent_id):
        return client.post(f"/routers/{router.id}/edit", data=_form(auth.token(), name=router.name, parent_id=str(parent_id),
                                                                     **keep))

    assert edit(b, a.id).status_code == 302 and edit(c, b.id).status_code == 302  # a <- b <- c
    loop = edit(a, c.id)  # c depends on a through b
    assert loop.status_code == 422 and "That parent depends on this router already" in loop.get_data(as_text=True)
    with app.app_context():
        from isp.services import routers
        from isp.services.errors import ServiceError

        row = db.session.get(Router, a.id)
        for parent_id, message in ((a.id, "A router cannot be its own parent."),
                                   (c.id + 1000, "That parent router does not exist")):
            try:
                routers.update_router(row, {**keep, "api_port": 1, "name": "a", "mode": "api", "max_sessions": 20,
                                            "parent_id": parent_id})
            except ServiceError as err:
                assert err.message.startswith(message) and err.field == "parent_id"
            else:
                raise AssertionError("accepted")
            db.session.rollback()
    assert _router(app, a.id).parent_id is None and _router(app, c.id).parent_id == b.id
    # Leaving the picker on "None" clears it.
    assert edit(c, 0).status_code == 302 and _router(app, c.id).parent_id is None
