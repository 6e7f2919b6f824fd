"""Reseller stock: paid from the ledger, refused when short, never overspent, isolated from each other."""
import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from isp.extensions import db as _db
from isp.models import LedgerEntry, User, Voucher, VoucherBatch
from isp.services import ledger, vouchers
from isp.services.errors import ServiceError


def _balance(app, user_id):
    with app.app_context():
        return ledger.balance(ledger.account_for(_db.session.get(User, user_id)).id)


def test_reseller_pays_reseller_price_in_the_same_transaction(app, make_user, make_router, make_plan, generate, fund, allow):
    reseller = make_user("reseller")
    plan = make_plan([make_router().id], price="10.00", reseller_price="7.50")
    allow(reseller.id, plan.id)
    fund(reseller.id, "100.00")
    batch_id = generate(reseller.id, plan.id, 4)
    assert _balance(app, reseller.id) == Decimal("70.00")
    with app.app_context():
        entry = _db.session.scalar(select(LedgerEntry).where(LedgerEntry.batch_id == batch_id))
        assert entry.amount == Decimal("-30.00") and entry.balance_after == Decimal("70.00")
        assert _db.session.get(VoucherBatch, batch_id).price == Decimal("10.00")  # the card shows the retail price


def test_insufficient_balance_refuses_with_the_amount_missing_and_creates_nothing(app, make_user, make_router, make_plan, fund, allow):
    reseller = make_user("reseller")
    plan = make_plan([make_router().id], reseller_price="3.00")
    allow(reseller.id, plan.id)
    fund(reseller.id, "20.00")
    with app.app_context():
        with pytest.raises(ServiceError) as err:
            vouchers.generate(_db.session.get(User, reseller.id), plan.id, 10)
        _db.session.rollback()
        assert "10.00 is missing" in err.value.message and "30.00" in err.value.message
        assert _db.session.scalar(select(func.count()).select_from(Voucher)) == 0
        assert _db.session.scalar(select(func.count()).select_from(VoucherBatch)) == 0
    assert _balance(app, reseller.id) == Decimal("20.00")


def test_reseller_cannot_sell_a_plan_not_allowed(app, make_user, make_router, make_plan, fund):
    reseller = make_user("reseller")
    plan = make_plan([make_router().id])
    fund(reseller.id, "100")
    with app.app_context(), pytest.raises(ServiceError, match="allowed to sell"):
        vouchers.generate(_db.session.get(User, reseller.id), plan.id, 1)


def test_two_concurrent_batches_cannot_overspend(app, make_user, make_router, make_plan, fund, allow):
    reseller = make_user("reseller")
    plan = make_plan([make_router().id], reseller_price="5.00")
    allow(reseller.id, plan.id)
    fund(reseller.id, "60.00")  # enough for one batch of 10, not two
    barrier = threading.Barrier(2)
    outcomes = []

    def buy():
        with app.app_context():
            user = _db.session.get(User, reseller.id)
            ledger.balance(ledger.account_for(user).id)  # both read the balance (60) before either spends
            _db.session.commit()
            barrier.wait()
            try:
                vouchers.generate(user, plan.id, 10)
                _db.session.commit()
                outcomes.append("ok")
            except ServiceError as err:
                _db.session.rollback()
                outcomes.append(err.message)
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=buy) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes, key=len)[0] == "ok" and "Insufficient balance" in sorted(outcomes, key=len)[1]
    assert _balance(app, reseller.id) == Decimal("10.00")
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(Voucher)) == 10


def test_reseller_sees_only_their_own_batches_and_vouchers(client, auth, make_user, make_router, make_plan, generate, fund, allow):
    plan = make_plan([make_router().id])
    a, b = make_user("reseller"), make_user("reseller")
    for r in (a, b):
        allow(r.id, plan.id)
        fund(r.id, "100")
    batch_a = generate(a.id, plan.id, 2)
    batch_b = generate(b.id, plan.id, 2)
    auth.login(b.username)
    assert client.get(f"/vouchers/batches/{batch_a}").status_code == 404
    assert client.get(f"/vouchers/batches/{batch_b}").status_code == 200
    assert client.get(f"/vouchers/batches/{batch_a}/progress").status_code == 404
    with client.application.app_context():
        a_voucher = _db.session.scalar(select(Voucher.id).where(Voucher.batch_id == batch_a))
        a_codes = set(_db.session.scalars(select(Voucher.code).where(Voucher.batch_id == batch_a)))
    assert client.get(f"/vouchers/{a_voucher}").status_code == 404
    listing = client.get(f"/vouchers/?batch_id={batch_a}").get_data(as_text=True)
    assert not any(code in listing for code in a_codes)
    exported = client.get("/vouchers/export.csv").get_data(as_text=True)
    assert not any(code in exported for code in a_codes) and exported.count("\n") == 3  # header + b's two
    # A bulk action naming a's voucher changes nothing.
    client.post("/vouchers/bulk", data={"action": "disable", "ids": [a_voucher], "csrf_token": auth.token()})
    with client.application.app_context():
        assert _db.session.get(Voucher, a_voucher).state.value == "unused"
    ledger_page = client.get("/resellers/me").get_data(as_text=True)
    assert f"(batch #{batch_b})" in ledger_page and f"(batch #{batch_a})" not in ledger_page
    assert "84.00" in ledger_page  # 100 - 2 × 8.00, b's own balance


def test_admin_tops_up_and_reseller_sees_the_ledger(client, auth, make_user):
    reseller = make_user("reseller")
    auth.login_as("admin")
    token = auth.token()
    bad = client.post(f"/resellers/{reseller.id}/entries", data={"kind": "topup", "amount": "12.345", "csrf_token": token})
    assert bad.status_code == 422 and "at most two decimals" in bad.get_data(as_text=True)  # a refusal is a 4xx
    neg = client.post(f"/resellers/{reseller.id}/entries", data={"kind": "adjustment", "amount": "-5", "memo": "", "csrf_token": token})
    assert "must be explained" in neg.get_data(as_text=True)
    ok = client.post(f"/resellers/{reseller.id}/entries", data={"kind": "topup", "amount": "250.50", "memo": "cash", "csrf_token": token})
    assert ok.status_code == 302
    over = client.post(f"/resellers/{reseller.id}/entries", data={"kind": "adjustment", "amount": "-300", "memo": "fix", "csrf_token": token})
    assert "Insufficient balance" in over.get_data(as_text=True)
    assert "250.50" in client.get("/resellers/").get_data(as_text=True)
    auth.logout()
    auth.login(reseller.username)
    page = client.get("/resellers/me").get_data(as_text=True)
    assert "250.50" in page and "cash" in page
    assert client.get(f"/resellers/{reseller.id}").status_code in (302, 403)
