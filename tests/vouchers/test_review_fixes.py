"""Cases found in review: nothing revives what was deleted, staff decisions stick, money and keys stay exact."""
from decimal import Decimal

from sqlalchemy import select

from isp.extensions import db as _db
from isp.models import CommandState, Router, RouterCommand, User, Voucher, VoucherBatch
from isp.services import ledger, outbox, voucher_lifecycle, vouchers


def _act(app, user_id, action, voucher_ids):
    with app.app_context():
        chosen = list(_db.session.scalars(select(Voucher).where(Voucher.id.in_(voucher_ids))))
        result = voucher_lifecycle.bulk_action(_db.session.get(User, user_id), action, chosen)
        _db.session.commit()
        return result


def test_retrying_failed_pushes_never_revives_a_deleted_voucher(app, make_user, make_router, make_plan, generate):
    admin = make_user("admin")
    plan = make_plan([make_router().id])  # port 1: every push dies
    batch_id = generate(admin.id, plan.id, 3)
    with app.app_context():
        for row in _db.session.scalars(select(RouterCommand).where(RouterCommand.group_key == f"voucher-batch:{batch_id}")):
            row.state, row.open_key = CommandState.dead, None
        _db.session.commit()
        ids = list(_db.session.scalars(select(Voucher.id).where(Voucher.batch_id == batch_id).order_by(Voucher.id)))
    _act(app, admin.id, "delete", ids[1:])
    with app.app_context():
        revived = vouchers.retry_failed(_db.session.get(VoucherBatch, batch_id), None)
        _db.session.commit()
        pending = {r.idempotency_key for r in _db.session.scalars(select(RouterCommand).where(
            RouterCommand.group_key == f"voucher-batch:{batch_id}", RouterCommand.state == CommandState.pending))}
        live_code = _db.session.get(Voucher, ids[0]).code
    assert revived == 1 and pending == {f"hotspot_user:{live_code}"}


def test_a_change_never_lands_in_a_row_a_worker_claimed_after_we_read_it(app, make_router):
    router = make_router()
    with app.app_context():
        r = _db.session.get(Router, router.id)
        push = outbox.queue_command(r, "hotspot_user.ensure", "hotspot_user:X", {"attrs": {"name": "X"}})
        _db.session.commit()
        seen = outbox._holder(f"{router.id}:hotspot_user:X")  # we read the pending row...
        _db.session.commit()
        with _db.engine.begin() as worker:  # ...then a worker claims it
            worker.execute(RouterCommand.__table__.update().where(RouterCommand.id == push.id).values(
                state="running", open_key=None))
        assert outbox._collapse(seen, f"{router.id}:hotspot_user:X", "hotspot_user.retire", {"name": "X"}) is False
        kick = outbox.queue_command(r, "hotspot_user.retire", "hotspot_user:X", {"name": "X", "action": "remove"})
        _db.session.commit()
        assert kick.id != push.id
        _db.session.expire_all()
        assert _db.session.get(RouterCommand, push.id).operation == "hotspot_user.ensure"


def test_reseller_cannot_enable_what_staff_disabled(app, make_user, make_router, make_plan, generate, fund, allow):
    admin, reseller = make_user("admin"), make_user("reseller")
    plan = make_plan([make_router().id])
    allow(reseller.id, plan.id)
    fund(reseller.id, "50")
    batch_id = generate(reseller.id, plan.id, 2)
    with app.app_context():
        a, b = _db.session.scalars(select(Voucher.id).where(Voucher.batch_id == batch_id).order_by(Voucher.id))
    _act(app, admin.id, "disable", [a])
    _act(app, reseller.id, "disable", [b])
    assert _act(app, reseller.id, "enable", [a, b]) == {"changed": 1, "skipped": 1}
    with app.app_context():
        assert _db.session.get(Voucher, a).state.value == "disabled" and _db.session.get(Voucher, b).state.value == "unused"


def test_deleting_disabled_never_used_reseller_stock_refunds_it(app, make_user, make_router, make_plan, generate, fund, allow):
    admin, reseller = make_user("admin"), make_user("reseller")
    plan = make_plan([make_router().id], reseller_price="2.50")
    allow(reseller.id, plan.id)
    fund(reseller.id, "10")
    batch_id = generate(reseller.id, plan.id, 2)  # 5.00 left
    with app.app_context():
        ids = list(_db.session.scalars(select(Voucher.id).where(Voucher.batch_id == batch_id)))
    _act(app, reseller.id, "disable", ids)
    _act(app, admin.id, "delete", ids)
    with app.app_context():
        assert ledger.balance(ledger.account_for(_db.session.get(User, reseller.id)).id) == Decimal("10.00")


def test_editing_a_plan_keeps_an_odd_data_quota_exact(client, auth, make_router, make_plan):
    plan = make_plan([make_router().id], data_quota="1288490189")  # not a whole number of MiB
    auth.login_as("admin")
    assert 'value="1288490189"' in client.get(f"/plans/{plan.id}/edit").get_data(as_text=True)
    plan2 = make_plan([], data_quota="1.25G")
    assert 'value="1280M"' in client.get(f"/plans/{plan2.id}/edit").get_data(as_text=True)


def test_bulk_back_link_cannot_leave_the_site(client, auth, make_user, make_router, make_plan, generate):
    admin = make_user("admin")
    batch_id = generate(admin.id, make_plan([make_router().id]).id, 1)
    auth.login(admin.username)
    for hostile in ("//evil.example", "/\\evil.example", "https://evil.example/"):
        response = client.post("/vouchers/bulk", data={"action": "disable", "batch_id": batch_id, "back": hostile,
                                                       "csrf_token": auth.token()})
        assert response.status_code == 302 and response.headers["Location"] == "/vouchers/"
