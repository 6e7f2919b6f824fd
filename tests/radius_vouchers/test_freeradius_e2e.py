"""End to end with the real FreeRADIUS: a voucher sold on a radius-mode router logs in at its plan's rate,
its first login comes back from the accounting FreeRADIUS wrote, and once expired it is refused."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from isp.extensions import db as _db
from isp.models import Voucher, VoucherState
from isp.models.base import utcnow
from isp.radius.models import RadAcct
from tests.conftest import run_worker


def _login(radius, code, password):
    return radius.radclient({"User-Name": code, "User-Password": password, "NAS-IP-Address": "127.0.0.1"})


def _start(radius, code, session):
    return radius.radclient({"User-Name": code, "Acct-Status-Type": "Start", "Acct-Session-Id": session,
                             "NAS-IP-Address": "127.0.0.1", "NAS-Port": 3, "Framed-IP-Address": "10.5.0.21"}, kind="acct")


def _vouchers(app, batch_id):
    with app.app_context():
        return [(v.code, v.password) for v in _db.session.scalars(select(Voucher).where(Voucher.batch_id == batch_id)
                                                                     .order_by(Voucher.id))]


def test_a_voucher_logs_in_at_its_plans_rate_then_expires_and_is_refused(app, freeradius, radius_router, make_user,
                                                                        make_plan, generate):
    from isp.jobs.vouchers import expire_vouchers, poll_usage_all

    admin = make_user("admin")
    plan = make_plan([radius_router.id], rate_limit="3M/6M", validity="1d", time_quota="2h", shared_users=1)
    batch_id = generate(admin.id, plan.id, 2, length=10, mode="userpass")
    (code, password), (other, other_password) = _vouchers(app, batch_id)

    answer, reply = _login(freeradius, code, password)
    assert answer == "Access-Accept", freeradius.log()
    assert reply["Mikrotik-Rate-Limit"] == "3M/6M" and reply["Acct-Interim-Interval"] == 300
    # The group's Session-Timeout is the validity (a day); the time quota's counter (noresetcounter on
    # Max-All-Session) lowers it to the two hours left.
    assert reply["Session-Timeout"] == 7200
    assert _login(freeradius, code, "wrong")[0] == "Access-Reject"

    assert _start(freeradius, code, "e2e-1")[0] == "Accounting-Response"
    with app.app_context():
        poll_usage_all()  # first login read from the radacct row FreeRADIUS wrote
        voucher = _db.session.scalar(select(Voucher).where(Voucher.code == code))
        assert voucher.state == VoucherState.active and voucher.expires_at - voucher.first_login_at == timedelta(days=1)
        assert _db.session.scalar(select(RadAcct.acctsessionid).where(RadAcct.username == code)) == "e2e-1"
    answer, reply = _login(freeradius, code, password)
    # Simultaneous-Use 1 and an open session: a second device is refused while the first is online.
    assert answer == "Access-Reject"

    # A voucher whose first session began longer ago than its validity: its Expiration alone refuses it,
    # even before our expiry sweep has removed its rows.
    with app.app_context():
        _db.session.add(RadAcct(acctsessionid="e2e-2", acctuniqueid="e2e-2-unique", username=other,
                                nasipaddress="127.0.0.1", acctstarttime=(utcnow() - timedelta(days=1, minutes=1))
                                .replace(tzinfo=None, microsecond=0), acctstoptime=(utcnow() - timedelta(days=1))
                                .replace(tzinfo=None, microsecond=0), acctsessiontime=60))
        _db.session.commit()
        poll_usage_all()
    assert _login(freeradius, other, other_password)[0] == "Access-Reject", freeradius.log()

    # At expiry the sweep takes the rows out and disconnects the live session.
    with app.app_context():
        voucher = _db.session.scalar(select(Voucher).where(Voucher.code == code))
        voucher.expires_at = utcnow() - timedelta(seconds=1)
        _db.session.commit()
        assert expire_vouchers() == 2
    radius_router.responder.sessions[code] = {"e2e-1"}
    run_worker(app)
    assert radius_router.responder.sessions[code] == set()
    assert _login(freeradius, code, password)[0] == "Access-Reject"
