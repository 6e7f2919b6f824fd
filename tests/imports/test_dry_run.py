"""The dry run: every bad line listed with its line number, column and reason, and nothing written."""
from __future__ import annotations

from decimal import Decimal

import pytest

from isp.extensions import db as _db
from isp.models import Customer, ServiceKind, Subscription
from isp.services import import_checks, import_format, importer
from isp.services.import_checks import Options
from isp.services.import_format import ImportFileError
from tests.imports.conftest import HEADER, csv_bytes

GOOD = ",Jane Doe,+254712345678,,jane@example.com,Plot 1,,,vip,,active,10.00,pppoe,jane,pw-jane,Home 10M,core-1,,,2030-01-31,yes"


def _existing_service(app, world, username="taken", static_ip=None, router_id=None):
    with app.app_context():
        customer = Customer(account_no="OLD-1", name="Old customer")
        _db.session.add(customer)
        _db.session.flush()
        _db.session.add(Subscription(customer_id=customer.id, kind=ServiceKind.pppoe, username=username,
                                     plan_id=world.plans["Home 10M"], router_id=router_id or world.core.id, static_ip=static_ip))
        _db.session.commit()


def _problems(report):
    return {(p.line, p.column) for p in report.problems}


def test_every_bad_line_is_listed_with_line_column_and_reason_and_nothing_is_written(app, ctx, world, counts):
    _existing_service(app, world, username="taken", static_ip="10.0.0.9")
    data = csv_bytes(
        GOOD,                                                                                        # 2 fine
        ",Ann,0711111111,,,,,,,,,,pppoe,ann,pw,No Such Plan,core-1,,,2030-01-31,",                   # 3 wrong plan
        ",Ben,0711111112,,,,,,,,,,pppoe,jane,pw,Home 10M,core-1,,,2030-01-31,",                      # 4 username twice in file
        ",Cat,0711111113,,,,,,,,,,pppoe,taken,pw,Home 10M,edge-2,,,2030-01-31,",                     # 5 username in the DB
        ",Dan,0711111114,,,,,,,,,,static,dan,,Office 20M,core-1,10.0.0.300,,2030-01-31,",            # 6 bad IP
        ",Eve,not-a-phone,,,,,,,,,,,,,,,,,,",                                                        # 7 bad phone
        ",Fay,0711111116,,,,,,,,,,pppoe,fay,pw,Home 10M,nowhere,,,2030-01-31,",                      # 8 unknown router
        ",Gus,0711111117,,,,,,,,,,pppoe,gus,pw,Edge Only,core-1,,,2030-01-31,",                      # 9 plan not sold there
        ",Hal,0711111118,,,,,,,,,,pppoe,hal,pw,Home 10M,core-1,,,2030-02-31,",                       # 10 bad date
        ",Ivy,0711111119,,,,,,,,,,hotspot,ivy,pw,Home 10M,core-1,,,,",                               # 11 plan of another kind
        ",Jon,0711111120,,,,,,,,,,static,jon,,Office 20M,core-1,10.0.0.9,,,",                        # 12 IP taken in the DB
        ",Kim,0711111121,,,,,,,,,,static,kim,,Office 20M,core-1,10.0.0.7,,,",                        # 13 fine
        ",Lou,0711111122,,,,,,,,,,static,lou,,Office 20M,core-1,10.0.0.7,,,",                        # 14 IP twice in file
        ",Mo,0711111123,,bad@,,,,,,,,pppoe,mo,,Home 10M,core-1,,,,maybe",                            # 15 email, password, flag
    )
    before = counts()
    report = importer.check(data, Options(), "c.csv")
    found = _problems(report)
    assert {(3, "plan"), (4, "username"), (5, "username"), (6, "static_ip"), (7, "phone"), (8, "router"), (9, "router"),
            (10, "paid_until"), (11, "plan"), (12, "static_ip"), (14, "static_ip"), (15, "email"), (15, "password"),
            (15, "auto_renew")} <= found
    assert not {p.line for p in report.problems} & {2, 13}  # the good lines are not blamed
    assert report.bad_lines == 12 and not report.ok
    messages = {(p.line, p.column): p.message for p in report.problems}
    assert "No service plan is named 'No Such Plan'" in messages[(3, "plan")] and "Home 10M" in messages[(3, "plan")]
    assert "also on line 2" in messages[(4, "username")]
    assert "already used by a PPPoE service" in messages[(5, "username")]
    assert "not an IPv4 address" in messages[(6, "static_ip")]
    assert "No router is named 'nowhere'" in messages[(8, "router")]
    assert "not sold on router 'core-1'" in messages[(9, "router")] and "edge-2" in messages[(9, "router")]
    assert "not a date" in messages[(10, "paid_until")]
    assert "is a PPPoE plan, not Hotspot" in messages[(11, "plan")]
    assert "already used on router 'core-1'" in messages[(12, "static_ip")]
    assert "also on line 13" in messages[(14, "static_ip")]
    _db.session.rollback()
    assert counts() == before


def test_a_clean_dry_run_counts_but_writes_nothing(app, ctx, world, counts):
    before = counts()
    report = importer.check(csv_bytes(GOOD, ",Kim,0711111121,,,,,,,,,,,,,,,,,,"), Options(), "c.csv")
    assert report.ok and report.customer_count == 2 and report.service_count == 1
    assert report.states == {"active": 1} and report.balances == (1, Decimal("10.00"))
    _db.session.rollback()
    assert counts() == before


def test_lines_of_one_customer_group_by_account_number_or_name_and_phone(ctx, world):
    data = csv_bytes(
        "A-1,Jane,0712345678,,,,,,,,,5.00,pppoe,j1,pw,Home 10M,core-1,,,2030-01-31,",
        "A-1,,,,,,,,,,,,pppoe,j2,pw,Home 10M,edge-2,,,2030-01-31,",
        ",Bob,0722 000 111,,,,,,,,,,pppoe,b1,pw,Home 10M,core-1,,,,",
        ",bob,0722000111,,,,,,,,,,static,b2,,Office 20M,core-1,10.1.1.1,,,",
        ",Bob,0733000111,,,,,,,,,,,,,,,,,,",
    )
    report = importer.check(data, Options())
    assert report.ok, report.problems
    assert [(c.line, len(c.services)) for c in report.customers] == [(2, 2), (4, 2), (6, 0)]
    assert report.customers[0].values["balance"] == Decimal("5.00")


def test_conflicting_values_for_one_customer_are_a_problem(ctx, world):
    data = csv_bytes("A-1,Jane,0712345678,,,,,,,,,5.00,,,,,,,,,", "A-1,Jane,0712345678,,,,,,,,,7.00,,,,,,,,,")
    report = importer.check(data, Options())
    assert [(p.line, p.column) for p in report.problems] == [(3, "balance")]
    assert "Differs from line 2" in report.problems[0].message


def test_a_closed_customer_cannot_get_services_and_required_columns_are_named(ctx, world):
    data = csv_bytes(",Jane,,,,,,,,,closed,,pppoe,j1,pw,Home 10M,core-1,,,,",
                     ",,,,,,,,,,,,,,,,,,,,",  # a blank line is skipped
                     ",,0712345678,,,,,,,,,,,,,,,,,,",
                     ",Al,,,,,,,,,,,,,pw,,core-1,,,,")
    report = importer.check(data, Options())
    assert (2, "status") in _problems(report)
    assert (4, "name") in _problems(report)
    assert {(5, "kind"), (5, "username"), (5, "plan")} <= _problems(report)


def test_the_default_router_and_name_mappings_from_the_form_apply(ctx, world):
    data = csv_bytes(",Jane,,,,,,,,,,,pppoe,j1,pw,Their 10M,,,,,", ",Bob,,,,,,,,,,,pppoe,b1,pw,Home 10M,Old Box,,,,")
    report = importer.check(data, Options(router="core-1", plan_map={"their 10m": "Home 10M"}, router_map={"old box": "EDGE-2"}))
    assert report.ok, report.problems
    refused = importer.check(data, Options())
    assert {(2, "router"), (2, "plan"), (3, "router")} <= _problems(refused)


def test_paid_until_reads_dates_in_the_operators_time_zone(app, ctx, world):
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Africa/Nairobi")  # UTC+3
    assert import_checks.when("2030-01-31", tz).isoformat() == "2030-01-31T21:00:00+00:00"  # through the end of the day
    assert import_checks.when("2030-01-31 10:30", tz).isoformat() == "2030-01-31T07:30:00+00:00"
    assert import_checks.when("2030-01-31T10:30:00+00:00", tz).isoformat() == "2030-01-31T10:30:00+00:00"
    for bad in ("31/01/2030", "2030-13-01", "1999-12-31", "tomorrow"):
        with pytest.raises(import_checks.ServiceError):
            import_checks.when(bad, tz)


@pytest.mark.parametrize("data,message", [
    (b"", "empty"),
    ("name\nJos\xe9\n".encode("latin-1"), "not UTF-8"),
    ("name\n".encode("utf-16"), "UTF-16"),
    (b"name,colour\nJane,red\n", "Unknown column(s): colour"),
    (b"name,name\nJane,Jane\n", "repeats a column"),
    (b"who,what\nJane,x\n", "not one we know"),
    (b"name\n", "no lines"),
    (b'name\n"Jane\n', "malformed"),
])
def test_a_file_that_cannot_be_read_is_refused_as_a_whole(ctx, world, data, message):
    with pytest.raises(ImportFileError) as err:
        importer.check(data, Options())
    assert message in err.value.message


def test_size_and_line_caps(ctx, world, monkeypatch):
    import io

    with pytest.raises(ImportFileError, match="larger than 5 MB"):
        import_format.read_upload(io.BytesIO(b"x" * (import_format.MAX_BYTES + 1)))
    monkeypatch.setattr(import_format, "MAX_LINES", 3)
    assert importer.check(csv_bytes(*[f",N{i},,,,,,,,,,,,,,,,,,," for i in range(3)]), Options()).ok
    with pytest.raises(ImportFileError, match="more than 3 lines"):
        importer.check(csv_bytes(*[f",N{i},,,,,,,,,,,,,,,,,,," for i in range(4)]), Options())


def test_a_utf8_bom_and_semicolons_are_accepted_and_a_short_line_is_one_problem(ctx, world):
    report = importer.check(csv_bytes(",Zoë,,,,,,,,,,,,,,,,,,,", bom=True), Options())
    assert report.ok and report.customers[0].values["name"] == "Zoë"
    semi = (b"name;phone\nJane;0712345678\nBob\n")
    report = importer.check(semi, Options())
    assert [(p.line, p.message) for p in report.problems] == [(3, "The line has 1 cells, the header has 2.")]
    assert HEADER.startswith("account_no,name")
