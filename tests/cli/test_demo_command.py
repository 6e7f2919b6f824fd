"""`flask demo`: the logins land in instance/demo-credentials.txt (owner-only) and in a banner printed once all is up."""
from __future__ import annotations

import os
import re
import stat
import threading
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from isp.extensions import db
from isp.jobs.maintenance import HEARTBEAT_KEY
from isp.models import (
    Customer,
    Invoice,
    LedgerAccount,
    LedgerEntry,
    Payment,
    RouterCommand,
    Subscription,
    SubscriptionState,
    User,
)
from isp.models.base import utcnow
from isp.services import users


@pytest.fixture
def demo_app(app, tmp_path):
    """The test app with its instance folder in tmp (never the developer's instance/)."""
    app.instance_path = str(tmp_path / "instance")
    return app


def _logins(text: str) -> dict[str, tuple[str, str]]:
    return {role: (name, password) for role, name, password in re.findall(r"^(\w+): (\S+) / (\S+)$", text, re.M)}


def test_demo_writes_the_logins_to_an_owner_only_file(demo_app, monkeypatch):
    monkeypatch.delenv("ISP_DEMO_PASSWORD", raising=False)
    monkeypatch.setenv("PORT", "5000")
    result = demo_app.test_cli_runner().invoke(args=["demo", "--customers", "0"])  # subscribers: the next test
    assert result.exit_code == 0, result.output
    path = os.path.join(demo_app.instance_path, "demo-credentials.txt")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = open(path, encoding="utf-8").read()
    logins = _logins(text)
    assert "URL: http://127.0.0.1:5000/" in text and set(logins) == {"admin", "reseller"}
    assert logins["admin"][1] in result.output and logins["reseller"][1] in result.output
    with demo_app.app_context():  # the file's passwords really log in
        assert users.authenticate("admin", logins["admin"][1]) is not None
        assert users.authenticate("shop", logins["reseller"][1]) is not None
        # README: the shop starts with 100.00 and has bought 40 × 0.80 and 30 × 1.60, so it shows 20.00.
        shop = db.session.scalar(select(LedgerAccount.id).join(User, User.id == LedgerAccount.user_id)
                                 .where(User.username == "shop"))
        amounts = [e.amount for e in db.session.scalars(select(LedgerEntry).where(LedgerEntry.account_id == shop))]
        assert sum(amounts) == 20 and sorted(amounts) == [-48, -32, 100]

    os.chmod(path, 0o644)  # a second run tightens the mode again and writes the new passwords
    again = demo_app.test_cli_runner().invoke(args=["demo", "--customers", "0"])
    assert again.exit_code == 0, again.output
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    new = _logins(open(path, encoding="utf-8").read())
    assert new["admin"][1] != logins["admin"][1]
    with demo_app.app_context():
        assert users.authenticate("shop", new["reseller"][1]) is not None
        assert users.authenticate("shop", logins["reseller"][1]) is None


def test_demo_seeds_subscribers_once_and_rearms_the_watch_customer(demo_app, monkeypatch):
    """`make demo` seeds 200 of these; 60 show every story (the stories cycle every 19 customers)."""
    monkeypatch.setenv("ISP_DEMO_PASSWORD", "demo-pass-for-tests-7")
    runner = demo_app.test_cli_runner()
    before = utcnow()
    result = runner.invoke(args=["demo", "--customers", "60"])
    after = utcnow()
    assert result.exit_code == 0, result.output
    text = open(os.path.join(demo_app.instance_path, "demo-credentials.txt"), encoding="utf-8").read()
    with demo_app.app_context():
        first = _subscribers(60, before, after)
        # The reseller `shop` signed up one in ten and, logged in, sees only those.
        from isp.services import customers

        shop = users.find_by_username("shop")
        owned = set(db.session.scalars(customers.scoped(select(Customer.id), shop)))
        assert shop.can_sell_services and len(owned) == 6
        assert owned == set(db.session.scalars(select(Customer.id).where(Customer.reseller_id == shop.id)))
    assert re.search(r"^Subscribers: 60 demo customers \(60 new, seeded in [0-9.]+ s\): \d+ active, \d+ grace", text, re.M)
    assert f"Watch: {first['watch'].account_no} {first['watch'].name}" in text and "suspended and kicked at" in text

    before = utcnow()
    result = runner.invoke(args=["demo", "--customers", "60"])
    after = utcnow()
    assert result.exit_code == 0, result.output
    with demo_app.app_context():
        again = _subscribers(60, before, after)
    # Nothing seeded twice; the watch customer is back in grace, its grace ending minutes after this run.
    assert again["invoices"] == first["invoices"] and again["payments"] == first["payments"]
    assert again["watch"].id == first["watch"].id


def _subscribers(count: int, before: datetime, after: datetime) -> dict:
    """What an operator sees of the demo's subscribers right after a seed that ran between `before` and `after`."""
    now = after
    subs = list(db.session.scalars(select(Subscription)))
    by_state = {state: [s for s in subs if s.state == state] for state in SubscriptionState}
    # Most paid, some in grace (still served), some suspended, some awaiting their first payment.
    assert len(subs) == count and len(by_state[SubscriptionState.active]) > count // 2
    assert all(len(by_state[s]) >= 3 for s in (SubscriptionState.grace, SubscriptionState.suspended, SubscriptionState.pending))
    assert {s.kind.value for s in subs} == {"pppoe", "static", "hotspot"}
    assert len({s.router_id for s in subs}) == 3 and all(s.static_ip for s in subs if s.kind.value == "static")
    assert all(s.paid_until > now for s in by_state[SubscriptionState.active])
    assert all(s.grace_until > now for s in by_state[SubscriptionState.grace])
    assert all(s.grace_until <= now for s in by_state[SubscriptionState.suspended])
    # Numbering is real and follows the sign-up dates (the watch customer comes last, on top of the list).
    numbers = db.session.execute(select(Customer.account_no, Customer.created_at).order_by(Customer.id)).all()
    assert [n for n, _ in numbers] == [f"ISP-{i:06d}" for i in range(1, count + 1)]
    assert [at for _, at in numbers[:-1]] == sorted(at for _, at in numbers[:-1])
    # Every cached balance is the sum of its entries; those in debt are customers still short of their first invoice.
    sums = dict(db.session.execute(select(LedgerEntry.account_id, func.sum(LedgerEntry.amount))
                                   .group_by(LedgerEntry.account_id)).tuples().all())
    accounts = list(db.session.scalars(select(LedgerAccount).where(LedgerAccount.customer_id.is_not(None))))
    assert len(accounts) == count and all(a.balance == sums.get(a.id, 0) for a in accounts)
    debtors = {a.customer_id for a in accounts if a.balance < 0}
    assert debtors and debtors <= {s.customer_id for s in by_state[SubscriptionState.pending]}
    # Each service's invoices cover its periods back to back from its start (backdated sign-ups included).
    for sub in by_state[SubscriptionState.active]:
        spans = db.session.execute(select(Invoice.period_start, Invoice.period_end)
                                   .where(Invoice.subscription_id == sub.id).order_by(Invoice.period_start)).all()
        assert spans[0][0] == sub.started_at and spans[-1][1] == sub.paid_until
        assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    # The routers are told: every service has its command set; suspended ones are disabled and kicked.
    commands = {c.idempotency_key: c for c in db.session.scalars(select(RouterCommand).where(
        RouterCommand.operation == "service.apply"))}
    for sub in by_state[SubscriptionState.suspended]:
        payload = commands[f"service:{sub.kind.value}:{sub.username}"].payload
        assert payload["state"] == "disabled" and payload["kick"] is True
    watch = db.session.scalar(select(Customer).where(Customer.tags.like("%demo-watch%")))
    watch_sub = next(s for s in subs if s.customer_id == watch.id)
    # Its grace ends 150 s after the seed (the banner says when), three grace days after its paid period ended.
    assert watch_sub.state == SubscriptionState.grace and watch_sub.grace_until - watch_sub.paid_until == timedelta(days=3)
    assert before + timedelta(seconds=149) <= watch_sub.grace_until <= after + timedelta(seconds=150)
    return {"customers": len(numbers), "invoices": db.session.scalar(select(func.count()).select_from(Invoice)),
            "payments": db.session.scalar(select(func.count()).select_from(Payment)), "watch": watch, "watch_sub": watch_sub}


def test_banner_waits_for_web_worker_and_clock(demo_app, monkeypatch):
    monkeypatch.setenv("ISP_DEMO_PASSWORD", "demo-pass-for-tests-7")
    server = make_server("127.0.0.1", 0, demo_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("HOST", "127.0.0.1")
    monkeypatch.setenv("PORT", str(server.server_port))  # as bin/demo exports them for every process
    runner = demo_app.test_cli_runner()
    try:
        assert runner.invoke(args=["demo", "--customers", "0"]).exit_code == 0  # the subscribers are tested above
        since = time.time()
        # Web answers but no clock heartbeat since start-up: the banner still comes, saying what is missing.
        late = runner.invoke(args=["demo", "banner", "--since", str(since), "--timeout", "1"])
        assert late.exit_code == 0 and "Still waiting for: worker and clock" in late.output
        demo_app.config["REDIS_CLIENT"].set(HEARTBEAT_KEY, time.time())  # what the clock's first job does
        up = runner.invoke(args=["demo", "banner", "--since", str(since), "--timeout", "5"])
    finally:
        server.shutdown()
    assert up.exit_code == 0 and "Still waiting" not in up.output
    assert "isp demo is up" in up.output and f"URL: http://127.0.0.1:{server.server_port}/" in up.output
    assert "admin: admin / demo-pass-for-tests-7" in up.output and "demo-credentials.txt" in up.output


def test_demo_cpes_dial_in_and_suspended_ones_stay_out(demo_app, monkeypatch):
    """`flask demo dial`: every served PPPoE/hotspot subscriber comes online; suspended and unpaid ones are refused."""
    from isp.cli import demo as demo_cli
    from isp.jobs.sessions import poll_sessions
    from isp.models import Router, ServiceKind
    from isp.services import routers, sessions
    from routeros_sim import Fleet, RouterConfig
    from tests.conftest import run_worker

    monkeypatch.setenv("ISP_DEMO_PASSWORD", "demo-pass-for-tests-7")
    configs = [RouterConfig(name=name, password="demo-router-pass", tls_port=None)
               for name in ("demo-core", "demo-slow", "demo-flaky")]
    runner = demo_app.test_cli_runner()
    with Fleet(configs, speed=1.0, control_port=0) as fleet:
        assert runner.invoke(args=["demo", "--customers", "24"]).exit_code == 0
        with demo_app.app_context():  # the registered demo routers, pointed at this fleet's free ports
            for router in db.session.scalars(select(Router)):
                routers.update_router(router, {"name": router.name, "addresses": "127.0.0.1", "username": "admin",
                                               "api_port": fleet[router.name].port, "password": "demo-router-pass",
                                               "mode": "api", "enabled": True, "max_sessions": 20})
            db.session.commit()
        run_worker(demo_app)  # secrets, hotspot users and queues reach the routers (suspended ones disabled)
        monkeypatch.setattr(demo_cli, "_control_port", lambda: fleet.control_port)
        dialled = runner.invoke(args=["demo", "dial", "--once"])
        assert dialled.exit_code == 0, dialled.output
        online = {(row["name"] if "name" in row else row["user"])
                  for router in fleet.routers for menu in ("/ppp/active", "/ip/hotspot/active")
                  for row in router.state.rows(menu)}
        with demo_app.app_context():
            subs = list(db.session.scalars(select(Subscription).where(Subscription.kind != ServiceKind.static)))
            for router_id in {s.router_id for s in subs}:
                poll_sessions(router_id)
            live = sessions.live_state([s.id for s in subs])
    served = {s.username for s in subs if s.state.served}
    out = {s.username for s in subs if not s.state.served}
    assert f"{len(subs)} simulated CPEs dialling" in dialled.output
    assert served and out and served <= online and not out & online
    # The customer pages say so: online now for every served one, offline for the others.
    assert all(live[s.id].online == s.state.served for s in subs)
