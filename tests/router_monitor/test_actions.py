"""The router page's actions and lists: interface disable/enable, kicks, sessions and the log search."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from isp.extensions import db
from isp.models import AuditEntry, Priority, Role, Router, RouterCommand, ServiceSession, User
from isp.models.base import utcnow
from isp.models.monitoring import RouterInterface, RouterLogEntry
from isp.services import router_monitor, users
from tests.conftest import run_worker
from tests.router_monitor.conftest import post


def _commands(app, operation: str) -> list[RouterCommand]:
    with app.app_context():
        rows = list(db.session.scalars(select(RouterCommand).where(RouterCommand.operation == operation)))
        db.session.expunge_all()
        return rows


def _audit(app, action: str) -> list[tuple[str, str]]:
    with app.app_context():
        return [(a.target, a.detail) for a in db.session.scalars(select(AuditEntry).where(AuditEntry.action == action))]


def test_disabling_an_interface_queues_one_command_on_high_and_audits_it(app, client, auth, make_router, make_iface):
    router = make_router(name="gw-east")
    ether2 = make_iface(router.id, "ether2")
    user = auth.login_as("operator")
    page = client.get(f"/routers/{router.id}").get_data(as_text=True)
    assert 'data-iface="ether2"' in page and "Disable ether2 on gw-east?" in page  # the confirmation names it
    for _ in range(2):  # a double click collapses into the pending command
        assert post(client, f"/routers/{router.id}/interface", {"iface_id": ether2.id, "action": "disable"}).status_code == 302
    (command,) = _commands(app, "interface.set")
    assert (command.payload, command.priority, command.state.value) == ({"name": "ether2", "disabled": True},
                                                                        Priority.high, "pending")
    assert _audit(app, "interface.disable") == [(f"router:{router.id}", "gw-east ether2")] * 2
    with app.app_context():
        assert db.session.scalar(select(AuditEntry.actor_id).where(AuditEntry.action == "interface.disable")) == user.id
    assert 'data-test="iface-pending">disabling' in client.get(f"/routers/{router.id}").get_data(as_text=True)


def test_the_management_tunnel_cannot_be_disabled(app, client, auth, make_router, make_iface):
    router = make_router()
    wg = make_iface(router.id, "wg-isp", type="wg")
    auth.login_as("admin")
    page = client.get(f"/routers/{router.id}").get_data(as_text=True)
    assert f'name="iface_id" value="{wg.id}"' not in page  # no button offered
    post(client, f"/routers/{router.id}/interface", {"iface_id": wg.id, "action": "disable"})
    assert _commands(app, "interface.set") == []
    assert "the tunnel the panel reaches" in client.get(f"/routers/{router.id}").get_data(as_text=True)


def test_interface_actions_need_csrf_and_staff(app, client, auth, make_router, make_iface):
    router = make_router()
    iface = make_iface(router.id, "ether3")
    auth.login_as("reseller")
    assert post(client, f"/routers/{router.id}/interface", {"iface_id": iface.id, "action": "disable"},
                **{"Accept": "application/json"}).status_code == 403
    auth.logout()
    auth.login_as("operator")
    assert client.post(f"/routers/{router.id}/interface", data={"iface_id": iface.id, "action": "disable"}).status_code in (302, 400)
    assert _commands(app, "interface.set") == []


def test_the_interface_operation_disables_and_enables_on_the_router(app, sim, make_router, ctx):
    target = sim.routers[0]
    router = make_router(target)
    actor = users.create_user("op-sim", "correct horse battery staple", Role.operator)
    iface = RouterInterface(router_id=router.id, name="ether2", type="ether")
    db.session.add(iface)
    db.session.flush()
    router_monitor.set_interface(db.session.get(Router, router.id), iface.id, True, db.session.get(User, actor.id))
    db.session.commit()
    run_worker(app)
    by_name = {i["name"]: i for i in target.state.menus["/interface"].items.values()}
    assert str(by_name["ether2"]["disabled"]) in ("true", "yes", "True")
    (command,) = _commands(app, "interface.set")
    assert command.state.value == "done" and command.result["action"] == "disabled"
    router_monitor.set_interface(db.session.get(Router, router.id), iface.id, False, db.session.get(User, actor.id))
    db.session.commit()
    run_worker(app)
    assert str(by_name["ether2"]["disabled"]) in ("false", "no", "False")


def test_kick_from_the_router_page_queues_on_critical(app, client, auth, staff, make_router, make_service_plan,
                                                     make_customer, make_service):
    router = make_router(name="gw-kick")
    plan = make_service_plan([router.id], price="0")
    sub = make_service(make_customer(staff.id).id, plan.id, staff.id, username="kickme")
    with app.app_context():
        now = utcnow()
        db.session.add(ServiceSession(subscription_id=sub.id, router_id=router.id, session_key="*1", address="10.9.0.7",
                                      started_at=now - timedelta(minutes=5), last_seen_at=now, bytes_in=1, bytes_out=2))
        db.session.commit()
    auth.login(staff.username)
    page = client.get(f"/routers/{router.id}").get_data(as_text=True)
    assert "kickme" in page and "10.9.0.7" in page and "Disconnect kickme now?" in page
    post(client, f"/routers/{router.id}/kick", {"username": "kickme"})
    (command,) = _commands(app, "ppp_active.kick")
    assert command.priority == Priority.critical and command.payload["name"] == "kickme"
    assert _audit(app, "subscription.kick") == [(f"subscription:{sub.id}", "pppoe:kickme")]
    post(client, f"/routers/{router.id}/kick", {"username": "nobody"})
    assert "No service or voucher &#39;nobody&#39; on gw-kick." in client.get(f"/routers/{router.id}").get_data(as_text=True)
    auth.logout()
    auth.login_as("reseller")
    assert post(client, f"/routers/{router.id}/kick", {"username": "kickme"},
                **{"Accept": "application/json"}).status_code == 403
    assert len(_commands(app, "ppp_active.kick")) == 1


def _log(app, router_id: int, rows: list[tuple[str, str]]) -> None:
    with app.app_context():
        db.session.add_all(RouterLogEntry(router_id=router_id, topics=t, message=m, router_time="12:00:00") for t, m in rows)
        db.session.commit()


def test_the_log_is_newest_first_and_searched_in_sql(app, client, auth, make_router, ctx):
    router, other = make_router(), make_router()
    _log(app, router.id, [("interface,info", "ether1 link down"), ("system,info", "user admin logged in"),
                          ("interface,info", "ether1 link up"), ("dhcp,info", "Lease 50% of ether1")])
    _log(app, other.id, [("interface,info", "ether1 link down on the other router")])
    auth.login_as("operator")
    htmx = {"HX-Request": "true"}
    html = client.get(f"/routers/{router.id}/log?q=LINK", headers=htmx).get_data(as_text=True)
    assert html.index("ether1 link up") < html.index("ether1 link down") and "other router" not in html
    assert "logged in" not in html
    only = client.get(f"/routers/{router.id}/log?q=link&topic=interface", headers=htmx).get_data(as_text=True)
    assert only.count('data-test="log-message"') == 2
    assert client.get(f"/routers/{router.id}/log?q=50%25", headers=htmx).get_data(as_text=True).count(
        'data-test="log-message"') == 1  # % is matched literally, not as a wildcard
    assert "No log line matches." in client.get(f"/routers/{router.id}/log?topic=ppp", headers=htmx).get_data(as_text=True)
    sql = str(router_monitor.log_query(router.id, "link", "interface").compile())
    assert sql.count("LIKE") == 2 and "ORDER BY router_log.id DESC" in sql


def test_the_log_pages(app, client, auth, make_router):
    router = make_router()
    app.config["PAGE_SIZE"] = 5
    _log(app, router.id, [("system,info", f"line {n:02d}") for n in range(12)])
    auth.login_as("operator")
    htmx = {"HX-Request": "true"}
    first = client.get(f"/routers/{router.id}/log", headers=htmx).get_data(as_text=True)
    assert "line 11" in first and "line 06" not in first and "page 1 of 3" in first
    third = client.get(f"/routers/{router.id}/log?page=3", headers=htmx).get_data(as_text=True)
    assert "line 01" in third and "line 00" in third and "line 02" not in third
