"""The CSV import refuses a username that is a voucher code (any kind: FreeRADIUS holds both as users), as the service form does."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from isp.extensions import db as _db
from isp.models import Router, ServiceKind, ServicePlan, Voucher
from isp.services import importer
from isp.services.import_checks import Options

HEADER = ("account_no,name,phone,phone2,email,address,national_id,location,tags,notes,status,balance,"
          "kind,username,password,plan,router,static_ip,caller_id,paid_until,auto_renew")


def test_a_hotspot_username_equal_to_a_voucher_code_is_a_problem_on_its_line(
        app, ctx, make_router, make_user, make_plan, generate):
    router = make_router(name="core-1")
    admin = make_user("admin")
    generate(admin.id, make_plan(router_ids=[router.id]).id, 1, router_id=router.id)
    code = _db.session.scalars(select(Voucher.code)).one()
    plan = ServicePlan(name="Hotspot Month", kind=ServiceKind.hotspot, profile_name="isp-hotspot-month",
                       price=Decimal("5.00"), routers=[_db.session.get(Router, router.id)])
    _db.session.add(plan)
    _db.session.commit()
    lines = [f",Ann,0711111111,,,,,,,,,,hotspot,{code},pw,Hotspot Month,core-1,,,2030-01-31,",
             ",Ben,0711111112,,,,,,,,,,hotspot,ben-home,pw,Hotspot Month,core-1,,,2030-01-31,",
             f",Cat,0711111113,,,,,,,,,,pppoe,{code},pw,Hotspot Month,core-1,,,2030-01-31,"]
    data = ("\n".join([HEADER, *lines]) + "\n").encode()
    report = importer.check(data, Options(), "c.csv")
    messages = {(p.line, p.column): p.message for p in report.problems}
    assert messages[(2, "username")] == f"'{code}' is a voucher code; choose another username."
    assert (3, "username") not in messages
    assert "also on line 2" in messages[(4, "username")]  # a PPPoE login may not share it either
    _db.session.rollback()
    assert not report.ok
