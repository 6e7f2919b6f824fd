"""Other panels' exports, recognised by their headers: what maps is imported, what cannot is a per-line error."""
from __future__ import annotations

from decimal import Decimal

from isp.services import importer
from isp.services.import_checks import Options

PNB_LIST = b"""id;username;fullname;address;phonenumber;email;balance;service_type
1;jane;"Jane Doe";"Plot 1";0712345678;jane@example.com;15.00;PPPoE
2;bob;Bob;;0;1;0.00;Hotspot
"""

PNB_PREPAID = b'''"id","username","fullname","address","phonenumber","email","balance","service_type","namebp","routers","status","Payment"
"1","jane","Jane Doe","Plot 1","0712345678","jane@example.com","15.00","PPPoE","PPPoE 10M","Mikrotik-Main","on","Cash"
"2","bob","Bob","","0","1","0.00","Others","Daily","Mikrotik-Main","off","Cash"
"3","cat","Cat","","0733000111","","0.00","Hotspot","","","Weird",""
'''

MAPS = Options(plan_map={"pppoe 10m": "Home 10M", "daily": "Hotspot Day"}, router_map={"mikrotik-main": "core-1"})


def test_phpnuxbill_customer_list_semicolons_imports_customers_and_their_balances(ctx, world):
    report = importer.check(PNB_LIST, Options())
    assert report.format == "phpnuxbill" and report.ok, report.problems
    jane, bob = report.customers
    assert (jane.values["name"], jane.values["phone"], jane.values["email"], jane.values["balance"]) == (
        "Jane Doe", "0712345678", "jane@example.com", Decimal("15.00"))
    assert jane.values["notes"] == "PHPNuxBill customer id 1"
    assert (bob.values["phone"], bob.values["email"]) == ("", "")  # PHPNuxBill's placeholder defaults
    assert report.service_count == 0  # no plan in this export: customers only


def test_phpnuxbill_prepaid_export_maps_plans_and_routers_and_names_what_it_cannot(ctx, world):
    report = importer.check(PNB_PREPAID, MAPS)
    problems = {(p.line, p.column): p.message for p in report.problems}
    assert set(problems) == {(2, "password"), (3, "service_type"), (4, "status")}
    assert "add a password column" in problems[(2, "password")]
    assert "does not say PPPoE or Hotspot" in problems[(3, "service_type")]
    assert "'Weird' has no equivalent" in problems[(4, "status")]


def test_phpnuxbill_with_a_password_and_expiry_added_imports_the_service(ctx, world):
    data = (b'"id","username","fullname","phonenumber","email","balance","service_type","namebp","routers","status",'
            b'"expiration","time","pppoe_password"\n'
            b'"7","jane","Jane","0712345678","","-3.00","PPPoE","PPPoE 10M","Mikrotik-Main","Active","2031-05-31","23:59:00","ppp-pw"\n')
    report = importer.check(data, MAPS)
    assert report.ok, report.problems
    service = report.customers[0].services[0]
    assert (service.kind.value, service.username, service.password) == ("pppoe", "jane", "ppp-pw")
    assert service.paid_until.isoformat() == "2031-05-31T23:59:00+00:00"


def test_mikhmon_user_export_maps_users_to_hotspot_services(ctx, world):
    data = (b"Username,Password,Profile,Time Limit,Data Limit,Comment\n"
            b"alice,pa55,Hotspot Day,,,shop 3, blue door\n"
            b"vc1,abc,Hotspot Day,1h,,vc-123-01.01.24\n"
            b"carl,pw,Unknown Profile,,,\n")
    report = importer.check(data, Options(router="core-1"))
    assert report.format == "mikhmon"
    problems = {(p.line, p.column): p.message for p in report.problems}
    assert set(problems) == {(3, "time_limit"), (4, "plan")}
    assert "is a voucher, not a subscription" in problems[(3, "time_limit")]
    alice = report.customers[0]
    assert alice.values["name"] == "alice" and alice.values["notes"] == "Mikhmon comment: shop 3, blue door"
    service = alice.services[0]
    assert (service.kind.value, service.username, service.password, service.state.value) == ("hotspot", "alice", "pa55", "pending")


def test_a_hotspot_user_print_with_server_column_needs_a_router_and_ignores_the_server(ctx, world):
    data = b"name,password,profile,server,comment,uptime\nbob,pw,hotspot day,hs1,,1h\n"
    report = importer.check(data, Options())
    assert report.ignored_columns == ["server", "uptime"]
    assert [(p.line, p.column) for p in report.problems] == [(2, "router")]
    assert "choose one on the upload form" in report.problems[0].message
    assert importer.check(data, Options(router="core-1")).ok
