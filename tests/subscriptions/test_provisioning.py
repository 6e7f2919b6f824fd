"""What a subscription puts on an api-mode router, through the outbox, per kind and state (against the simulator)."""
from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from isp import crypto
from isp.extensions import db as _db
from isp.models import (
    Branding,
    CommandState,
    Customer,
    Router,
    RouterCommand,
    ServiceKind,
    ServicePlan,
    Subscription,
    SubscriptionState,
)
from isp.services import lifecycle, provisioning
from tests.conftest import run_worker

S = SubscriptionState
SECRETS, PPP_PROFILES, PPP_ACTIVE = "/ppp/secret", "/ppp/profile", "/ppp/active"
USERS, USER_PROFILES, HS_ACTIVE = "/ip/hotspot/user", "/ip/hotspot/user/profile", "/ip/hotspot/active"
QUEUES, LISTS = "/queue/simple", "/ip/firewall/address-list"
MENUS = (PPP_ACTIVE, HS_ACTIVE, SECRETS, USERS, PPP_PROFILES, USER_PROFILES, QUEUES, LISTS)
MAC = "02:11:22:33:44:55"


def wipe(sim_router) -> None:
    """Empty what subscriptions touch (the session-wide simulator may hold another test's objects)."""
    with sim_router.state.lock:
        for path in MENUS:
            menu = sim_router.state.menu(path)
            for item in list(menu.items.values()):
                if not item.get("_builtin"):
                    menu.delete(item)


def rows(sim_router, path: str, key: str = "name") -> dict:
    """A menu's rows by `key`."""
    return {row.get(key): row for row in sim_router.state.rows(path)}


def entries(sim_router) -> set[tuple[str, str]]:
    """(list, address) of the static address-list entries."""
    return {(r["list"], r["address"]) for r in sim_router.state.rows(LISTS) if r.get("dynamic") != "true"}


class World:
    """Routers on the simulator, plans, customers and subscriptions made directly as rows."""

    def __init__(self, app, sim, make_router):
        self.app, self.n = app, 0
        self.sims = sim.routers[:2]
        for sim_router in self.sims:
            wipe(sim_router)
        self.routers = [make_router(sim_router) for sim_router in self.sims]

    def plan(self, kind: str = "pppoe", rate_limit: str = "2M/4M", routers: tuple[int, ...] = (0,), **fields) -> int:
        """A service plan sold on the given routers (by index); returns its id."""
        self.n += 1
        with self.app.app_context():
            plan = ServicePlan(name=f"Plan {self.n}", kind=ServiceKind(kind), profile_name=f"isp-plan-{self.n}",
                               price=Decimal("20.00"), rate_limit=rate_limit, **fields)
            plan.routers = [_db.session.get(Router, self.routers[i].id) for i in routers]
            _db.session.add(plan)
            _db.session.commit()
            return plan.id

    def sub(self, plan_id: int, username: str, router: int = 0, state: S = S.active, password: str = "s3cret-pw",
            **fields) -> int:
        """A customer with one subscription in `state`; returns the subscription id."""
        self.n += 1
        with self.app.app_context():
            customer = Customer(account_no=f"ISP-{self.n:06d}", name=f"Customer {self.n}")
            _db.session.add(customer)
            _db.session.flush()
            plan = _db.session.get(ServicePlan, plan_id)
            sub = Subscription(customer_id=customer.id, kind=plan.kind, username=username, plan_id=plan_id,
                               router_id=self.routers[router].id, state=state, password_encrypted=crypto.encrypt(password),
                               **fields)
            _db.session.add(sub)
            _db.session.commit()
            return sub.id

    def sync(self, sub_id: int, **kw) -> None:
        """provisioning.sync, committed."""
        with self.app.app_context():
            provisioning.sync(_db.session.get(Subscription, sub_id), **kw)
            _db.session.commit()

    def move(self, sub_id: int, to: S) -> None:
        """A state transition through the lifecycle seam (which queues the router change), committed."""
        with self.app.app_context():
            lifecycle.transition(_db.session.get(Subscription, sub_id), to, None, "test")
            _db.session.commit()

    def edit(self, sub_id: int, **changes) -> None:
        """What a service edit does: the old placement removed when router/username/IP change, then a sync."""
        with self.app.app_context():
            sub = _db.session.get(Subscription, sub_id)
            old = (sub.router, sub.kind, sub.username, sub.static_ip)
            if "password" in changes:
                sub.password_encrypted = crypto.encrypt(changes.pop("password"))
            if "router" in changes:
                changes["router_id"] = self.routers[changes.pop("router")].id
            for key, value in changes.items():
                setattr(sub, key, value)
            _db.session.flush()
            _db.session.expire(sub, ["router"])
            if (sub.router_id, sub.username, sub.static_ip) != (old[0].id, old[2], old[3]):
                provisioning.unplace(*old)
            provisioning.sync(sub)
            _db.session.commit()

    def suspend_mode(self, mode: str) -> None:
        """Settings → suspension mode."""
        with self.app.app_context():
            branding = _db.session.get(Branding, 1) or Branding(id=1, business_name="", currency="", logo_mime="")
            branding.suspend_mode = mode
            _db.session.add(branding)
            _db.session.commit()

    def commands(self, **where) -> list[SimpleNamespace]:
        """Outbox rows (operation, key, state, router, payload), oldest first."""
        with self.app.app_context():
            stmt = select(RouterCommand).order_by(RouterCommand.id)
            for key, value in where.items():
                stmt = stmt.where(getattr(RouterCommand, key) == value)
            return [SimpleNamespace(operation=c.operation, key=c.idempotency_key, state=c.state, router_id=c.router_id,
                                    payload=c.payload) for c in _db.session.scalars(stmt)]

    def run(self) -> None:
        """Drain the queues with the real worker."""
        run_worker(self.app)



@pytest.fixture
def world(app, sim, make_router):
    """Two simulated routers, emptied, registered in api mode."""
    yield World(app, sim, make_router)
    for sim_router in sim.routers[:2]:
        wipe(sim_router)


# -- each kind, active --------------------------------------------------------------------------------------


def test_an_active_pppoe_service_is_a_secret_on_its_plans_profile(world):
    plan = world.plan("pppoe", "2M/4M")
    sub = world.sub(plan, "alice", static_ip="10.20.0.7", caller_id=MAC)
    world.sync(sub)
    world.run()
    r1 = world.sims[0]
    secret = rows(r1, SECRETS)["alice"]
    assert (secret["password"], secret["service"], secret["profile"]) == ("s3cret-pw", "pppoe", "isp-plan-1")
    assert (secret["remote-address"], secret["caller-id"], secret["disabled"]) == ("10.20.0.7", MAC, "false")
    assert secret["comment"].startswith("isp service ISP-")
    assert rows(r1, PPP_PROFILES)["isp-plan-1"]["rate-limit"] == "2M/4M"
    # The router admits the locked device only, at the fixed address.
    assert r1.login("alice", "ppp", mac="02:99:99:99:99:99") == "caller-id mismatch"
    assert r1.login("alice", "ppp", mac=MAC) is None
    assert rows(r1, PPP_ACTIVE)["alice"]["address"] == "10.20.0.7"
    assert rows(world.sims[1], SECRETS) == {}


def test_an_active_hotspot_service_is_a_user_marked_apart_from_vouchers(world):
    plan = world.plan("hotspot", "1M/2M", shared_users=2)
    sub = world.sub(plan, "bob", caller_id=MAC)
    world.sync(sub)
    world.run()
    user = rows(world.sims[0], USERS)["bob"]
    assert (user["password"], user["profile"], user["mac-address"], user["disabled"]) == ("s3cret-pw", "isp-plan-1", MAC, "false")
    assert user["comment"].startswith("isp service") and not user["comment"].startswith("isp voucher")
    profile = rows(world.sims[0], USER_PROFILES)["isp-plan-1"]
    assert (profile["rate-limit"], profile["shared-users"]) == ("1M/2M", "2")
    assert world.commands()[-1].key == "service:hotspot:bob"


def test_an_active_static_service_is_a_queue_and_an_active_list_entry(world):
    plan = world.plan("static", "2M/4M 4M/8M 1500k/3M 16/16 5")
    sub = world.sub(plan, "carol", static_ip="10.30.0.9")
    world.sync(sub)
    world.run()
    queue = rows(world.sims[0], QUEUES)["isp-carol"]
    assert (queue["target"], queue["max-limit"], queue["disabled"]) == ("10.30.0.9/32", "2000000/4000000", "false")
    assert (queue["burst-limit"], queue["burst-threshold"], queue["burst-time"], queue["priority"]) == (
        "4000000/8000000", "1500000/3000000", "16s/16s", "5/5")
    assert queue["comment"].endswith(f"plan {plan}")
    assert entries(world.sims[0]) == {("isp-active", "10.30.0.9")}


# -- suspension, both modes, and back -------------------------------------------------------------------------


def test_suspension_disables_the_secret_and_kicks_the_session_in_one_job(world):
    plan = world.plan("pppoe")
    sub = world.sub(plan, "dave")
    world.sync(sub)
    world.run()
    r1 = world.sims[0]
    assert r1.login("dave", "ppp") is None and "dave" in rows(r1, PPP_ACTIVE)
    before = len(world.commands())
    world.move(sub, S.suspended)
    queued = world.commands()[before:]
    assert [(c.operation, c.key) for c in queued] == [("service.apply", "service:pppoe:dave")]
    world.run()
    assert world.commands()[-1].state == CommandState.done
    assert rows(r1, SECRETS)["dave"]["disabled"] == "true"
    assert "dave" not in rows(r1, PPP_ACTIVE)
    assert r1.login("dave", "ppp") == "user disabled"


def test_suspension_of_a_hotspot_user_disables_and_logs_it_out(world):
    plan = world.plan("hotspot")
    sub = world.sub(plan, "erin")
    world.sync(sub)
    world.run()
    r1 = world.sims[0]
    assert r1.login("erin", "hotspot") is None and "erin" in rows(r1, HS_ACTIVE, "user")
    world.move(sub, S.suspended)
    world.run()
    assert rows(r1, USERS)["erin"]["disabled"] == "true" and "erin" not in rows(r1, HS_ACTIVE, "user")


def test_suspension_of_a_static_ip_lists_it_suspended_and_chokes_its_queue_never_unshaping_it(world):
    plan = world.plan("static", "10M/10M")
    sub = world.sub(plan, "frank", static_ip="10.30.0.10")
    world.sync(sub)
    world.run()
    world.move(sub, S.suspended)
    world.run()
    assert entries(world.sims[0]) == {("isp-suspended", "10.30.0.10")}
    queue = rows(world.sims[0], QUEUES)["isp-frank"]
    assert (queue["disabled"], queue["max-limit"]) == ("false", "1000/1000")  # enabled: a disabled queue limits nothing
    with world.app.app_context():  # a plan edit meanwhile does not reopen it
        provisioning.push_plan(_db.session.get(ServicePlan, plan))
        _db.session.commit()
    world.run()
    assert rows(world.sims[0], QUEUES)["isp-frank"]["max-limit"] == "1000/1000"
    world.move(sub, S.active)
    world.run()
    assert entries(world.sims[0]) == {("isp-active", "10.30.0.10")}
    queue = rows(world.sims[0], QUEUES)["isp-frank"]
    assert (queue["disabled"], queue["max-limit"]) == ("false", "10000000/10000000")


def test_restrict_mode_moves_services_to_the_restricted_profile_and_list(world):
    world.suspend_mode("restrict")
    ppp, hs, static = world.plan("pppoe"), world.plan("hotspot"), world.plan("static", "10M/10M")
    subs = [world.sub(ppp, "gina"), world.sub(hs, "hank"), world.sub(static, "ivan", static_ip="10.30.0.11")]
    for sub in subs:
        world.sync(sub)
    world.run()
    r1 = world.sims[0]
    assert r1.login("gina", "ppp") is None and r1.login("hank", "hotspot") is None
    for sub in subs:
        world.move(sub, S.suspended)
    world.run()
    secret, user = rows(r1, SECRETS)["gina"], rows(r1, USERS)["hank"]
    assert (secret["profile"], secret["disabled"]) == ("isp-suspended", "false")
    assert (user["profile"], user["disabled"]) == ("isp-suspended", "false")
    restricted = rows(r1, PPP_PROFILES)["isp-suspended"]
    assert (restricted["address-list"], restricted["rate-limit"]) == ("isp-suspended", "256k/256k")
    assert "isp-suspended" in rows(r1, USER_PROFILES)
    # Kicked, so the next login lands on the restricted profile.
    assert "gina" not in rows(r1, PPP_ACTIVE) and "hank" not in rows(r1, HS_ACTIVE, "user")
    assert r1.login("gina", "ppp") is None
    assert entries(r1) == {("isp-suspended", "10.30.0.11")}
    queue = rows(r1, QUEUES)["isp-ivan"]
    assert (queue["max-limit"], queue["disabled"]) == ("256000/256000", "false")
    # Reactivation reverses it all, and kicks the restricted session.
    for sub in subs:
        world.move(sub, S.active)
    world.run()
    assert rows(r1, SECRETS)["gina"]["profile"] == "isp-plan-1" and rows(r1, USERS)["hank"]["profile"] == "isp-plan-2"
    assert "gina" not in rows(r1, PPP_ACTIVE)
    assert entries(r1) == {("isp-active", "10.30.0.11")}
    assert rows(r1, QUEUES)["isp-ivan"]["max-limit"] == "10000000/10000000"


def test_a_kick_asked_for_survives_a_newer_change_collapsing_into_it(world):
    world.suspend_mode("restrict")
    plan = world.plan("pppoe")
    sub = world.sub(plan, "jane")
    world.sync(sub)
    world.run()
    r1 = world.sims[0]
    assert r1.login("jane", "ppp") is None
    world.move(sub, S.suspended)              # kick=True
    world.edit(sub, password="new-password")  # a plain sync (no kick) before any worker ran
    pending = world.commands(state=CommandState.pending)
    assert len(pending) == 1 and pending[0].payload["kick"] is True
    world.run()
    assert "jane" not in rows(r1, PPP_ACTIVE)
    assert rows(r1, SECRETS)["jane"]["password"] == "new-password"


# -- the end, moves and renames -------------------------------------------------------------------------------


def test_termination_leaves_nothing_on_the_router(world):
    ppp, static = world.plan("pppoe"), world.plan("static")
    a, b = world.sub(ppp, "kate"), world.sub(static, "liam", static_ip="10.30.0.12")
    for sub in (a, b):
        world.sync(sub)
    world.run()
    r1 = world.sims[0]
    assert r1.login("kate", "ppp") is None
    for sub in (a, b):
        world.move(sub, S.terminated)
    world.run()
    assert "kate" not in rows(r1, SECRETS) and rows(r1, PPP_ACTIVE) == {}
    assert rows(r1, QUEUES) == {} and entries(r1) == set()


def test_a_pending_service_is_not_on_the_router(world):
    sub = world.sub(world.plan("pppoe"), "mona", state=S.pending)
    world.sync(sub)
    world.run()
    assert rows(world.sims[0], SECRETS) == {}
    world.move(sub, S.active)
    world.run()
    assert "mona" in rows(world.sims[0], SECRETS)


def test_a_router_move_leaves_nothing_behind_on_either_router(world):
    ppp, static = world.plan("pppoe", routers=(0, 1)), world.plan("static", routers=(0, 1))
    a, b = world.sub(ppp, "nick"), world.sub(static, "olga", static_ip="10.30.0.13")
    for sub in (a, b):
        world.sync(sub)
    world.run()
    r1, r2 = world.sims
    assert r1.login("nick", "ppp") is None
    world.edit(a, router=1)
    world.edit(b, router=1)
    world.run()
    assert "nick" not in rows(r1, SECRETS) and rows(r1, PPP_ACTIVE) == {}
    assert rows(r1, QUEUES) == {} and entries(r1) == set()
    assert rows(r2, SECRETS)["nick"]["profile"] == "isp-plan-1" and "isp-plan-1" in rows(r2, PPP_PROFILES)
    assert rows(r2, QUEUES)["isp-olga"]["target"] == "10.30.0.13/32"
    assert entries(r2) == {("isp-active", "10.30.0.13")}


def test_a_username_change_leaves_no_old_secret_queue_or_entry(world):
    ppp, static = world.plan("pppoe"), world.plan("static")
    a, b = world.sub(ppp, "pete"), world.sub(static, "quin", static_ip="10.30.0.14")
    for sub in (a, b):
        world.sync(sub)
    world.run()
    world.edit(a, username="pete2")
    world.edit(b, username="quin2")
    world.run()
    r1 = world.sims[0]
    assert set(rows(r1, SECRETS)) == {"pete2"} and rows(r1, SECRETS)["pete2"]["password"] == "s3cret-pw"
    assert set(rows(r1, QUEUES)) == {"isp-quin2"}
    (entry,) = r1.state.rows(LISTS)
    assert (entry["list"], entry["address"], entry["comment"]) == ("isp-active", "10.30.0.14", "isp service quin2")


def test_a_new_static_ip_replaces_the_old_one_everywhere(world):
    sub = world.sub(world.plan("static"), "rita", static_ip="10.30.0.15")
    world.sync(sub)
    world.run()
    world.edit(sub, static_ip="10.30.0.16")
    assert len(world.commands(state=CommandState.pending)) == 1  # the removal and the new placement are one command
    world.run()
    assert entries(world.sims[0]) == {("isp-active", "10.30.0.16")}
    assert rows(world.sims[0], QUEUES)["isp-rita"]["target"] == "10.30.0.16/32"


# -- collapse, plans, bulk ------------------------------------------------------------------------------------


def test_two_quick_changes_are_one_pending_row_with_the_latest_state(world):
    sub = world.sub(world.plan("pppoe"), "sam", caller_id="")
    world.sync(sub)
    world.edit(sub, password="second-pw", caller_id=MAC)
    pending = world.commands(state=CommandState.pending)
    assert [c.key for c in pending] == ["service:pppoe:sam"]
    world.run()
    secret = rows(world.sims[0], SECRETS)["sam"]
    assert (secret["password"], secret["caller-id"]) == ("second-pw", MAC)


def test_a_plan_edit_is_one_command_per_router_whatever_the_subscribers(world):
    plan = world.plan("pppoe", "2M/4M", routers=(0, 1), data_cap_bytes=10 ** 9, fup_rate_limit="512k/512k")
    subs = [world.sub(plan, f"u{i}", router=i % 2) for i in range(6)]
    with world.app.app_context():
        provisioning.sync_many(subs)
        _db.session.commit()
    world.run()
    before = len(world.commands())
    with world.app.app_context():
        plan_row = _db.session.get(ServicePlan, plan)
        plan_row.rate_limit = "8M/16M"
        assert provisioning.push_plan(plan_row) == 2
        _db.session.commit()
    queued = world.commands()[before:]
    assert sorted((c.operation, c.router_id) for c in queued) == [("plan.apply", r.id) for r in world.routers]
    world.run()
    for sim_router in world.sims:
        profiles = rows(sim_router, PPP_PROFILES)
        assert profiles["isp-plan-1"]["rate-limit"] == "8M/16M"
        assert profiles["isp-plan-1-fup"]["rate-limit"] == "512k/512k"


def test_a_static_plan_edit_retunes_its_queues_in_one_command(world):
    world.suspend_mode("restrict")
    plan = world.plan("static", "2M/4M", data_cap_bytes=10 ** 9, fup_rate_limit="1M/1M")
    other = world.plan("static", "3M/3M")
    normal = world.sub(plan, "tina", static_ip="10.30.1.1")
    capped = world.sub(plan, "umar", static_ip="10.30.1.2", fup_active=True)
    cut = world.sub(plan, "vera", static_ip="10.30.1.3", state=S.suspended)
    bystander = world.sub(other, "walt", static_ip="10.30.1.4")
    with world.app.app_context():
        assert provisioning.sync_many([normal, capped, cut, bystander], kick=False) == 4
        _db.session.commit()
    world.run()
    before = len(world.commands())
    with world.app.app_context():
        plan_row = _db.session.get(ServicePlan, plan)
        plan_row.rate_limit, plan_row.fup_rate_limit = "6M/12M", "2M/2M"
        provisioning.push_plan(plan_row)
        _db.session.commit()
    assert [c.operation for c in world.commands()[before:]] == ["plan.apply"]
    world.run()
    queues = rows(world.sims[0], QUEUES)
    assert queues["isp-tina"]["max-limit"] == "6000000/12000000"
    assert queues["isp-umar"]["max-limit"] == "2000000/2000000"
    assert queues["isp-vera"]["max-limit"] == "256000/256000"  # restricted stays restricted
    assert queues["isp-walt"]["max-limit"] == "3000000/3000000"


def test_a_fup_service_uses_the_plans_fallback_profile(world):
    plan = world.plan("pppoe", "4M/8M", data_cap_bytes=10 ** 9, fup_rate_limit="1M/1M")
    sub = world.sub(plan, "xena", fup_active=True)
    world.sync(sub)
    world.run()
    assert rows(world.sims[0], SECRETS)["xena"]["profile"] == "isp-plan-1-fup"
    assert "isp-plan-1-fup" in rows(world.sims[0], PPP_PROFILES)


def test_the_billing_run_suspends_many_in_bulk_chunks_on_critical(world):
    plan = world.plan("pppoe", routers=(0, 1))
    subs = [world.sub(plan, f"bulk{i}", router=i % 2) for i in range(50)]
    with world.app.app_context():
        provisioning.sync_many(subs)
        _db.session.commit()
    world.run()
    assert world.sims[0].login("bulk0", "ppp") is None
    with world.app.app_context():
        _db.session.execute(Subscription.__table__.update().where(Subscription.id.in_(subs)).values(state=S.suspended))
        assert provisioning.sync_many(subs) == 50
        pending = _db.session.scalar(select(func.count()).select_from(RouterCommand).where(
            RouterCommand.state == CommandState.pending, RouterCommand.priority == "critical"))
        _db.session.commit()
    assert pending == 50
    world.run()
    for sim_router in world.sims:
        secrets = rows(sim_router, SECRETS)
        assert len(secrets) == 25 and all(s["disabled"] == "true" for s in secrets.values())
    assert rows(world.sims[0], PPP_ACTIVE) == {}


def test_a_kick_disconnects_without_changing_the_service(world):
    sub = world.sub(world.plan("hotspot"), "yuri")
    world.sync(sub)
    world.run()
    r1 = world.sims[0]
    assert r1.login("yuri", "hotspot") is None
    with world.app.app_context():
        provisioning.kick(_db.session.get(Subscription, sub))
        _db.session.commit()
    assert world.commands()[-1].operation == "hotspot_active.kick"
    world.run()
    assert rows(r1, HS_ACTIVE, "user") == {} and rows(r1, USERS)["yuri"]["disabled"] == "false"


def test_a_radius_router_gets_no_router_change_only_a_disconnect(world, make_router):
    # What it gets in FreeRADIUS's tables instead: tests/radius_writers.
    radius = make_router(None, mode="radius", radius_secret="x" * 16)
    plan = world.plan("pppoe")
    sub = world.sub(plan, "zoe")
    with world.app.app_context():
        row = _db.session.get(Subscription, sub)
        row.router_id = radius.id
        _db.session.flush()
        _db.session.expire(row, ["router"])
        before = _db.session.scalar(select(func.count()).select_from(RouterCommand))
        provisioning.sync(row)
        provisioning.kick(row)
        queued = _db.session.scalars(select(RouterCommand.operation).where(RouterCommand.id > 0).order_by(RouterCommand.id)
                                     .offset(before)).all()
        assert queued == ["radius.disconnect"]
        _db.session.rollback()


# -- passwords sealed, and names the panel does not own -------------------------------------------------------


def test_the_password_is_never_in_the_outbox_in_clear_yet_reaches_the_router(world):
    sub = world.sub(world.plan("pppoe"), "sealy", password="plain-Pa55word")
    world.sync(sub)
    with world.app.app_context():
        stored = [c.payload_json for c in _db.session.scalars(select(RouterCommand))]
    assert stored and not any("plain-Pa55word" in text for text in stored)
    world.run()
    assert rows(world.sims[0], SECRETS)["sealy"]["password"] == "plain-Pa55word"
    with world.app.app_context():  # nor in what the worker stored after running it
        done = [(c.payload_json, c.result_json or "", c.last_error) for c in _db.session.scalars(select(RouterCommand))]
    assert not any("plain-Pa55word" in part for row in done for part in row)


def test_a_service_never_takes_over_or_deletes_a_secret_or_user_the_panel_does_not_own(world):
    r1 = world.sims[0]
    r1.state.add(SECRETS, name="boss", password="operators-own", service="pppoe")
    r1.state.add(USERS, name="VOUCH1", password="x", comment="isp voucher batch 1")
    assert r1.login("boss", "ppp") is None
    ppp, hs = world.plan("pppoe"), world.plan("hotspot")
    a, b = world.sub(ppp, "boss"), world.sub(hs, "VOUCH1")
    for sub in (a, b):
        world.sync(sub)
    world.run()
    failed = [c for c in world.commands() if c.key in ("service:pppoe:boss", "service:hotspot:VOUCH1")]
    assert {c.state for c in failed} == {CommandState.dead}
    with world.app.app_context():
        errors = {c.idempotency_key: c.last_error for c in _db.session.scalars(select(RouterCommand))}
    assert "a PPP secret named boss exists on the router and is not managed by the panel" in errors["service:pppoe:boss"]
    assert "a hotspot user named VOUCH1 exists" in errors["service:hotspot:VOUCH1"]
    secret = rows(r1, SECRETS)["boss"]
    assert (secret["password"], secret.get("comment", ""), secret["disabled"]) == ("operators-own", "", "false")
    assert rows(r1, USERS)["VOUCH1"]["comment"] == "isp voucher batch 1"
    for sub in (a, b):
        world.move(sub, S.terminated)
    world.run()
    assert "boss" in rows(r1, SECRETS) and "VOUCH1" in rows(r1, USERS)
    assert "boss" in rows(r1, PPP_ACTIVE)  # the operator's own session is not ours to end
