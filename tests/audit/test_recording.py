"""Each kind of action writes one audit row: actor, via, IP, target and a before/after of what changed, no secret."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from isp.extensions import db as _db
from isp.models import (
    CommandState,
    Customer,
    HotspotPlan,
    Router,
    RouterCommand,
    ServicePlan,
    Subscription,
    User,
    Voucher,
    VoucherState,
)
from isp.models.base import utcnow
from isp.services import (
    adjustments,
    alert_rules,
    api_tokens,
    audit,
    billing,
    customers,
    notification_settings,
    outbox,
    plans,
    routers,
    service_plans,
    subscriptions,
)
from isp.services.errors import ServiceError
from isp.transaction import atomic
from tests.audit.conftest import IP, entries, everything
from tests.conftest import SIM_PASSWORD, csrf_from

ROUTER_PW = "n3w-Router-pw-5512"


def _router_form(router: Router, **changes) -> dict:
    data = {"name": router.name, "addresses": "\n".join(router.addresses), "api_port": router.api_port,
            "username": router.username, "password": "", "mode": router.mode.value, "site": router.site,
            "parent_id": 0, "notes": router.notes, "enabled": "y", "max_sessions": router.max_sessions,
            "radius_incoming_port": router.radius_incoming_port}
    data.update(changes)
    return data


def test_a_router_edit_in_the_browser_records_who_where_and_what_changed_with_the_password_masked(app, client, auth,
                                                                                                  make_router):
    made = make_router(name="core-a", site="north")
    admin = auth.login_as("admin")
    with app.app_context():
        form = _router_form(_db.session.get(Router, made.id), site="south", password=ROUTER_PW)
    page = client.get(f"/routers/{made.id}/edit")
    form["csrf_token"] = csrf_from(page.get_data(as_text=True))
    response = client.post(f"/routers/{made.id}/edit", data=form, environ_base={"REMOTE_ADDR": IP})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]

    [entry] = entries(app, "router.update")
    assert (entry.actor_id, entry.via, entry.ip) == (admin.id, "web", IP)
    assert (entry.target_type, entry.target_id, entry.target) == ("routers", made.id, "core-a")
    assert entry.changes["site"] == ["north", "south"]
    assert entry.changes["password_encrypted"] == [audit.MASK, audit.MASK]
    assert set(entry.changes) == {"site", "password_encrypted"}  # nothing that did not change
    assert ROUTER_PW not in everything(app) and SIM_PASSWORD not in everything(app)


def test_an_edit_without_a_new_password_does_not_say_the_password_changed(app, web, make_user, make_router):
    made = make_router(name="core-b")
    admin = make_user("admin")
    with web():
        router = _db.session.get(Router, made.id)
        routers.update_router(router, _router_form(router, notes="rack 4"), _db.session.get(User, admin.id))
        _db.session.commit()
    [entry] = entries(app, "router.update")
    assert entry.changes == {"notes": ["", "rack 4"]}


def test_plan_edits_record_the_fields_that_changed(app, web, make_user, make_router, make_plan):
    r1, r2 = make_router(name="r-one"), make_router(name="r-two")
    plan = make_plan([r1.id], name="Daily", price="10.00")
    admin = make_user("admin")
    with web():
        hotspot = _db.session.get(HotspotPlan, plan.id)
        plans.update_plan(hotspot, {"name": "Daily+", "price": "12.50", "reseller_price": "8.00", "validity": "1d",
                                    "rate_limit": "2M/4M", "shared_users": 1, "active": True,
                                    "router_ids": [r1.id, r2.id]}, _db.session.get(User, admin.id))
        service = service_plans.create_plan({"name": "Home", "kind": "pppoe", "price": "25.00", "period_unit": "month",
                                             "period_count": "1", "rate_limit": "5M/10M", "shared_users": "1",
                                             "active": True, "router_ids": [r1.id]}, _db.session.get(User, admin.id))
        _db.session.flush()
        service_plans.update_plan(service, {"name": "Home", "kind": "pppoe", "price": "30.00", "period_unit": "month",
                                            "period_count": "1", "rate_limit": "5M/10M", "shared_users": "1",
                                            "active": True, "router_ids": [r1.id]}, _db.session.get(User, admin.id))
        _db.session.commit()
        service_id = service.id
    [edit] = entries(app, "plan.update")
    assert (edit.actor_id, edit.via, edit.ip, edit.target_type, edit.target_id) == (admin.id, "web", IP, "hotspot_plans", plan.id)
    assert edit.changes == {"name": ["Daily", "Daily+"], "price": ["10.00", "12.50"], "routers": [["r-one"], ["r-one", "r-two"]]}
    [service_edit] = entries(app, "service_plan.update")
    assert (service_edit.target_type, service_edit.target_id) == ("service_plans", service_id)
    assert service_edit.changes == {"price": ["25.00", "30.00"]}
    [created] = entries(app, "service_plan.create")
    assert created.changes["name"] == [None, "Home"]


@pytest.fixture
def subscriber(app, make_user, make_router):
    """An operator, a router with a PPPoE plan, a customer and one service on it (password 'first-Secret-77')."""
    operator = make_user("operator")
    router = make_router(name="edge")
    with app.app_context():
        actor = _db.session.get(User, operator.id)
        plan = service_plans.create_plan({"name": "Fibre", "kind": "pppoe", "price": "0", "period_unit": "month",
                                          "period_count": "1", "rate_limit": "5M/10M", "shared_users": "1",
                                          "active": True, "router_ids": [router.id]}, actor)
        customer = customers.create({"name": "Jane Doe", "phone": "+254700000001"}, actor)
        sub = subscriptions.create(customer, {"plan_id": plan.id, "username": "jane", "password": "first-Secret-77"}, actor)
        _db.session.commit()
        return {"operator": operator, "customer": customer.id, "sub": sub.id, "plan": plan.id}


def test_a_service_edit_records_the_diff_and_only_that_the_password_changed(app, web, subscriber):
    with web():
        sub = _db.session.get(Subscription, subscriber["sub"])
        subscriptions.edit(sub, {"password": "second-Secret-88", "caller_id": "AA:BB:CC:DD:EE:01"},
                           _db.session.get(User, subscriber["operator"].id))
        _db.session.commit()
    [entry] = entries(app, "subscription.edit")
    assert (entry.actor_id, entry.via, entry.ip) == (subscriber["operator"].id, "web", IP)
    assert (entry.target_type, entry.target_id) == ("subscriptions", subscriber["sub"])
    assert entry.changes["password_encrypted"] == [audit.MASK, audit.MASK]
    assert entry.changes["caller_id"][1] == "AA:BB:CC:DD:EE:01"
    [created] = entries(app, "subscription.create")
    assert created.changes["username"] == [None, "jane"] and created.changes["password_encrypted"] == [None, audit.MASK]
    text = everything(app)
    assert "first-Secret-77" not in text and "second-Secret-88" not in text


def test_money_is_audited_against_the_customer_with_the_balance_before_and_after(app, web, subscriber, make_user):
    admin = make_user("admin")
    with web():
        actor = _db.session.get(User, admin.id)
        customer = _db.session.get(Customer, subscriber["customer"])
        payment = billing.record_payment(customer, "40.00", "cash", None, "", actor)
        adjustments.adjust(customer, "-5.00", "meter misread", actor)
        _db.session.commit()
        payment_id = payment.id
    [paid] = entries(app, "billing.payment")
    assert (paid.actor_id, paid.target_type, paid.target_id) == (admin.id, "payments", payment_id)
    assert paid.changes["amount"] == [None, "40.00"]
    [adjusted] = entries(app, "billing.adjust")
    assert (adjusted.target_type, adjusted.target_id) == ("customers", subscriber["customer"])
    assert adjusted.changes == {"balance": ["40.00", "35.00"]}


def test_the_smtp_password_and_api_tokens_never_reach_the_log(app, web, make_user):
    admin = make_user("admin")
    config = {"host": "smtp.example.com", "port": "587", "security": "starttls", "sender": "billing@example.com"}
    with web():
        actor = _db.session.get(User, admin.id)
        notification_settings.save_channel(actor, "email", True, config, "Smtp-Pass-0001")
        _db.session.commit()
        notification_settings.save_channel(actor, "email", True, {**config, "port": "465", "security": "ssl"},
                                           "Smtp-Pass-0002")
        _db.session.commit()
        _token, raw = api_tokens.create(actor, "ci", {"read"}, None)
        _db.session.commit()
    first, second = entries(app, "notifications.channel")
    assert first.changes["secret_encrypted"] == [None, audit.MASK]
    assert second.changes["secret_encrypted"] == [audit.MASK, audit.MASK]
    assert second.changes["config_json"][0]["port"] == 587 and second.changes["config_json"][1]["port"] == 465
    text = everything(app)
    assert "Smtp-Pass-0001" not in text and "Smtp-Pass-0002" not in text and raw not in text


def test_an_alert_rule_edit_and_a_voucher_batch_name_their_object(app, web, make_user, make_router, make_plan, generate):
    admin = make_user("admin")
    router = make_router(name="vouch")
    plan = make_plan([router.id])
    batch_id = generate(admin.id, plan.id, 3)
    with web():
        actor = _db.session.get(User, admin.id)
        rule = alert_rules.save_rule(actor, None, "offline", {"name": "Down", "seconds": "60", "severity": "critical",
                                                              "channels": [], "enabled": True})
        _db.session.commit()
        alert_rules.set_enabled(actor, rule, False)
        _db.session.commit()
        rule_id = rule.id
    [batch] = entries(app, "vouchers.generate")
    assert (batch.actor_id, batch.target_type, batch.target_id) == (admin.id, "voucher_batches", batch_id)
    assert batch.changes["count"] == [None, 3]
    [off] = entries(app, "alert_rule.disable")
    assert (off.target_type, off.target_id, off.changes) == ("alert_rules", rule_id, {"enabled": [True, False]})


def test_the_change_and_its_audit_row_commit_or_roll_back_together(app, web, make_user, make_router, make_plan):
    plan = make_plan([make_router().id], name="Weekly")
    admin = make_user("admin")

    def edit_then_fail():
        plans.update_plan(_db.session.get(HotspotPlan, plan.id), {
            "name": "Weekly renamed", "price": "10.00", "reseller_price": "8.00", "validity": "1d", "rate_limit": "2M/4M",
            "shared_users": 1, "active": True, "router_ids": []}, _db.session.get(User, admin.id))
        assert _db.session.scalar(select(HotspotPlan.name).where(HotspotPlan.id == plan.id)) == "Weekly renamed"
        raise ServiceError("refused after the audit row was added")

    with web(), pytest.raises(ServiceError):
        atomic(edit_then_fail)
    assert entries(app, "plan.update") == []
    with app.app_context():
        assert _db.session.get(HotspotPlan, plan.id).name == "Weekly"


def test_a_router_delete_that_fails_after_recording_leaves_neither_change_nor_row(app, client, auth, make_router,
                                                                                     monkeypatch):
    made = make_router(name="doomed")
    auth.login_as("admin")

    def broken(router):
        raise ServiceError("The nas row could not be removed.")

    monkeypatch.setattr("isp.services.onboarding.forget", broken)
    response = client.post(f"/routers/{made.id}/delete", data={"confirm": "y", "csrf_token": auth.token()})
    assert response.status_code == 302
    assert entries(app, "router.delete") == []
    with app.app_context():
        assert _db.session.get(Router, made.id) is not None


def _dead_command(app, router_id: int, key: str) -> int:
    with app.app_context():
        command = outbox.queue_command(_db.session.get(Router, router_id), "hotspot_user.ensure", key,
                                       {"attrs": {"name": "x", "password": "payload-Secret-9"}})
        command.state, command.attempts, command.open_key = CommandState.dead, 4, None
        _db.session.commit()
        return command.id


def test_dead_letter_retry_and_discard_are_audited(app, client, auth, make_router):
    router = make_router(name="dl")
    retried, dropped = _dead_command(app, router.id, "hotspot_user:a"), _dead_command(app, router.id, "hotspot_user:b")
    operator = auth.login_as("operator")
    token = auth.token()
    assert client.post(f"/monitoring/commands/{retried}/retry", data={"csrf_token": token}).status_code == 302
    assert client.post(f"/monitoring/commands/{dropped}/discard", data={"csrf_token": token}).status_code == 302
    [retry] = entries(app, "outbox.retry")
    assert (retry.actor_id, retry.via, retry.target_type, retry.target_id) == (operator.id, "web", "router_commands", retried)
    assert retry.changes == {"attempts": [4, 0], "state": ["dead", "pending"]}
    assert retry.target == "hotspot_user.ensure on dl"
    [discard] = entries(app, "outbox.discard")
    assert (discard.actor_id, discard.target_id, discard.changes) == (operator.id, dropped, {"state": ["dead", "discarded"]})
    assert "payload-Secret-9" not in everything(app)


def test_a_cli_command_is_audited_as_cli(app):
    result = app.test_cli_runner().invoke(args=["users", "create-admin", "cli-admin", "--password", "Long-enough-pw-1"])
    assert result.exit_code == 0, result.output
    [entry] = entries(app, "user.create")
    assert (entry.via, entry.actor_id, entry.ip) == ("cli", None, "")
    assert "Long-enough-pw-1" not in everything(app)


def test_the_voucher_expiry_job_writes_one_summary_row_as_job(app, make_user, make_router, make_plan, generate):
    from isp.jobs import vouchers as voucher_jobs

    admin = make_user("admin")
    plan = make_plan([make_router().id])
    generate(admin.id, plan.id, 3)
    with app.app_context():
        for voucher in _db.session.scalars(select(Voucher)):
            voucher.state, voucher.first_login_at = VoucherState.active, utcnow() - timedelta(days=2)
            voucher.expires_at = utcnow() - timedelta(seconds=5)
        _db.session.commit()
        with audit.source("job"):  # what the worker wraps every job in
            assert voucher_jobs.expire_vouchers() == 3
    [entry] = entries(app, "vouchers.expire")
    assert (entry.via, entry.actor_id) == ("job", None)
    assert entry.changes == {"state": [{"active": 3}, {"expired": 3}]}


def test_a_job_run_without_a_source_still_says_job(app, make_user):
    with app.app_context():
        audit.record(None, "test.system", "x")
        _db.session.commit()
    assert entries(app, "test.system")[0].via == "job"


def test_a_service_plan_is_readable_by_its_id_in_the_log(app, web, subscriber):
    [created] = entries(app, "service_plan.create")
    assert (created.target_type, created.target_id) == ("service_plans", subscriber["plan"])
    with app.app_context():
        assert _db.session.get(ServicePlan, subscriber["plan"]).name == created.target


def test_dead_lettering_by_the_worker_writes_one_row_per_settled_chunk(app, make_router):
    from isp.jobs import router as router_jobs
    from isp.routeros.client import RouterError

    made = make_router(name="flaky")
    ids = [_dead_command(app, made.id, f"hotspot_user:{n}") for n in range(3)]
    with app.app_context(), audit.source("job"):
        rows = [_db.session.get(RouterCommand, i) for i in ids]
        for row in rows:
            row.state, row.open_key = CommandState.running, f"{made.id}:{row.idempotency_key}"
        _db.session.flush()
        router_jobs._retry_or_die([(row, RouterError("unreachable", "no route to host")) for row in rows], app.config)
        _db.session.commit()
    [entry] = entries(app, "outbox.dead")
    assert (entry.via, entry.actor_id, entry.target_type, entry.target_id) == ("job", None, "routers", made.id)
    assert entry.changes == {"dead commands": [None, 3]} and "no route to host" in entry.detail


def test_the_billing_run_writes_a_summary_row_per_chunk_not_per_service(app, subscriber):
    with app.app_context():
        sub = _db.session.get(Subscription, subscriber["sub"])
        sub.paid_until = utcnow() - timedelta(days=1)
        _db.session.commit()
        with audit.source("job"):
            counts = billing.run(utcnow())
            _db.session.commit()
    assert counts["renewed"] == 1
    [entry] = entries(app, "subscriptions.renew")
    assert (entry.via, entry.actor_id, entry.target) == ("job", None, "1 services")
    assert entry.changes == {"invoices": [None, 0], "renewed": [None, 1]}


def test_a_customer_edit_and_status_change_record_what_changed_against_the_customer(app, web, subscriber, make_user):
    admin = make_user("admin")
    with web():
        actor = _db.session.get(User, admin.id)
        customer = _db.session.get(Customer, subscriber["customer"])
        customers.update(customer, {"phone": "+254700000002", "email": "jane@example.com"}, actor)
        customers.set_status(customer, "suspended", actor, "asked to pause")
        _db.session.commit()
    [created] = entries(app, "customer.create")
    assert (created.target_type, created.target_id) == ("customers", subscriber["customer"])
    assert created.changes["name"] == [None, "Jane Doe"]
    [edit] = entries(app, "customer.update")
    assert (edit.actor_id, edit.ip, edit.target_type, edit.target_id) == (admin.id, IP, "customers", subscriber["customer"])
    assert edit.changes["phone"] == ["+254700000001", "+254700000002"]
    assert edit.changes["email"][1] == "jane@example.com"
    assert "name" not in edit.changes
    [status] = entries(app, "customer.status")
    assert status.changes == {"status": ["active", "suspended"]}
