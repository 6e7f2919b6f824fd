"""The import pages: staff only, dry run then confirm (file kept server-side, run by a worker), escaped output,
exports that import back."""
from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from rq.job import Job
from sqlalchemy import delete, func, select

from isp import crypto
from isp.extensions import db as _db
from isp.models import AuditEntry, Counter, Customer, CustomerEvent, LedgerAccount, LedgerEntry, ServiceKind, Subscription, User
from isp.services import import_format, importer
from isp.services.import_checks import Options
from isp.transaction import atomic
from tests.conftest import csrf_from
from tests.imports.conftest import confirm, confirm_token, csv_bytes, import_jobs, run_imports, upload

FUTURE = (date.today() + timedelta(days=45)).isoformat()
CLEAN = csv_bytes(f",Jane,0712345678,,,,,,,,,5.00,pppoe,jane,pw-jane,Home 10M,core-1,,,{FUTURE},yes",
                  ",Bob,0722000111,,,,,,,,,,,,,,,,,,")


def _customers(app):
    with app.app_context():
        return _db.session.scalar(select(func.count()).select_from(Customer))


@pytest.mark.parametrize("method,url", [("GET", "/imports/"), ("POST", "/imports/"), ("POST", "/imports/confirm"),
                                        ("GET", "/imports/sample.csv"), ("POST", "/imports/export/services-with-passwords.csv")])
def test_a_reseller_cannot_reach_the_import(client, auth, method, url):
    auth.login_as("reseller")
    headers = {"HX-Request": "true", "X-CSRFToken": auth.token()}
    assert client.open(url, method=method, headers=headers).status_code == 403
    page = client.open(url, method=method, headers={"X-CSRFToken": auth.token()})
    assert page.status_code == 302 and page.headers["Location"] == "/"


def test_an_operator_sees_every_bad_line_and_nothing_is_written(app, client, auth, world, counts):
    auth.login_as("operator")
    before = counts()
    response = upload(client, csv_bytes(",Ann,0711111111,,,,,,,,,,pppoe,ann,pw,Nope,core-1,,,,",
                                        ",Ben,12,,,,,,,,,,,,,,,,,,"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "The file cannot be imported yet" in html and 'data-test="confirm"' not in html
    assert "<td data-label=\"Line\" class=\"nowrap\">2</td>" in html and "No service plan is named" in html
    assert "<td data-label=\"Line\" class=\"nowrap\">3</td>" in html and "7 to 15 digits" in html
    assert counts() == before


def test_markup_in_names_values_and_file_names_is_shown_escaped(app, client, auth, world):
    auth.login_as("operator")
    evil = "<script>alert(1)</script>"
    clean = upload(client, csv_bytes(f',"{evil}",,,,,,,,,,,,,,,,,,,'), filename="<img src=y onerror=z>.csv").get_data(as_text=True)
    assert evil not in clean and "&lt;script&gt;alert(1)&lt;/script&gt;" in clean
    assert "<img src=y" not in clean and "&lt;img src=y onerror=z&gt;.csv" in clean
    bad = upload(client, csv_bytes(',Jane,"<img src=x onerror=alert(1)>",,,,,,,,,,,,,,,,,,')).get_data(as_text=True)
    assert "<img src=x" not in bad and "&lt;img src=x onerror=alert(1)&gt;" in bad


def test_confirm_queues_one_run_and_its_page_shows_the_counts(app, client, auth, world, counts):
    auth.login_as("operator")
    page = upload(client, CLEAN).get_data(as_text=True)
    assert "Import 2 customers and 1 services" in page
    token = confirm_token(page)
    started = confirm(client, page)
    assert started.status_code == 302 and started.headers["Location"] == f"/imports/run?token={token}"
    assert import_jobs(app) == ["isp.jobs.imports.run_import"] and _customers(app) == 0  # queued, not run in the request
    job = Job.fetch(importer.run_job_id(token), connection=app.config["REDIS_CLIENT"])
    assert job.origin == "bulk" and job.description == f"import run {importer.run_ref(token)}"  # workers log this
    waiting = client.get(started.headers["Location"]).get_data(as_text=True)
    assert "Waiting for a worker to start the import" in waiting and 'hx-trigger="every 2s"' in waiting

    again = confirm(client, page)  # a second click, or the form sent twice
    assert again.headers["Location"] == started.headers["Location"] and import_jobs(app) == ["isp.jobs.imports.run_import"]
    assert "already started: each checked file is imported once" in client.get(again.headers["Location"]).get_data(as_text=True)

    run_imports(app)
    assert _customers(app) == 2 and import_jobs(app) == []
    result = client.get(started.headers["Location"], headers={"HX-Request": "true"})  # the polling block
    html = result.get_data(as_text=True)
    assert result.status_code == 200 and html.lstrip().startswith('<div id="import-run"')
    assert 'data-state="done"' in html and "hx-get" not in html  # finished: it stops polling
    assert '<span class="stat-value" data-test="customers">2</span>' in html
    assert '<span class="stat-value" data-test="services">1</span>' in html and "1 active" in html
    assert 'href="/customers/"' in html
    with app.app_context():
        entry = _db.session.scalar(select(AuditEntry).where(AuditEntry.action == "customers.import"))
        assert "2 customers, 1 services (1 active)" in entry.detail and entry.detail.endswith(f"; run {importer.run_ref(token)}")
        assert token not in entry.detail

    late = confirm(client, page)  # after the run: still once
    assert late.headers["Location"] == started.headers["Location"] and import_jobs(app) == []
    run_imports(app)
    assert _customers(app) == 2


def test_the_checked_file_and_its_run_are_bound_to_who_uploaded_it(app, client, auth, world):
    auth.login_as("operator")
    page = upload(client, CLEAN).get_data(as_text=True)
    token = confirm_token(page)
    auth.logout()
    auth.login_as("operator")
    for forged in (token, "A" * 32, "../../etc"):
        response = client.post("/imports/confirm", data={"csrf_token": auth.token(), "token": forged}, follow_redirects=True)
        assert "has expired" in response.get_data(as_text=True)
    assert import_jobs(app) == [] and _customers(app) == 0
    auth.logout()
    auth.login_as("admin")
    page = upload(client, CLEAN).get_data(as_text=True)
    run_url = confirm(client, page).headers["Location"]
    run_imports(app)
    assert "Imported" in client.get(run_url).get_data(as_text=True)
    auth.logout()
    auth.login_as("admin")  # staff too, but not who started it
    assert client.get(run_url).status_code == 404
    assert client.get(run_url, headers={"HX-Request": "true"}).status_code == 404
    assert client.get("/imports/run?token=" + "A" * 32).status_code == 404
    auth.logout()
    auth.login_as("reseller")
    assert client.get(run_url, headers={"HX-Request": "true"}).status_code == 403
    assert _customers(app) == 2


def test_a_username_taken_between_confirm_and_run_lists_the_problem_and_writes_nothing(app, client, auth, world, counts):
    auth.login_as("admin")
    page = upload(client, CLEAN).get_data(as_text=True)
    run_url = confirm(client, page).headers["Location"]
    with app.app_context():
        other = Customer(account_no="X-1", name="Somebody")
        _db.session.add(other)
        _db.session.flush()
        _db.session.add(Subscription(customer_id=other.id, kind=ServiceKind.pppoe, username="jane",
                                     plan_id=world.plans["Home 10M"], router_id=world.core.id))
        _db.session.commit()
    before = counts()
    run_imports(app)
    assert counts() == before
    html = client.get(run_url).get_data(as_text=True)
    assert 'data-state="refused"' in html and "Nothing was imported" in html
    assert '<td data-label="Line" class="nowrap">2</td><td data-label="Column"><code>username</code></td>' in html
    assert "already used by a PPPoE service" in html and "hx-get" not in html
    assert confirm(client, page).headers["Location"] == run_url and import_jobs(app) == []  # upload again, not retry


def _rows(response):
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


ROUND_TRIP = csv_bytes(
    f'ISP-000004,=HYPERLINK("http://evil"),+254712345678,0722000111,jane@example.com,Plot 1,ID-1,"-1.29,36.82",vip,"line one\nline two",active,-12.50,pppoe,-jane,"p=w,1",Home 10M,core-1,10.0.0.5,AA:BB:CC:DD:EE:FF,{FUTURE} 13:45,no',
    f"ISP-000004,,,,,,,,,,,,static,office,,Office 20M,core-1,10.0.0.6,,{FUTURE},yes",
    ",Bob,0733000111,,,,,,,,suspended,3.00,pppoe,bob,pw-bob,Edge Only,edge-2,,,2020-01-31,yes",
    ",Cat,,,,,,,,,,,hotspot,cat,pw-cat,Hotspot Day,core-1,,,,yes",
    ",Dan,,,,,,,,,closed,,,,,,,,,,",
)


def _snapshot(app):
    with app.app_context():
        customers = [(c.account_no, c.name, c.phone, c.phone2, c.email, c.address, c.national_id, c.location, c.tags, c.notes,
                      c.status.value) for c in _db.session.scalars(select(Customer).order_by(Customer.account_no))]
        balances = sorted(str(b) for b in _db.session.scalars(select(LedgerAccount.balance)))
        services = sorted((s.customer.account_no, s.kind.value, s.username, crypto.decrypt(s.password_encrypted) if s.password_encrypted else "",
                           s.plan.name, s.router.name, s.static_ip, s.caller_id, s.state.value, s.paid_until, s.period_start, s.auto_renew)
                          for s in _db.session.scalars(select(Subscription)))
        return customers, balances, services


def _wipe(app):
    with app.app_context():
        for model in (LedgerEntry, LedgerAccount, CustomerEvent, Subscription, Customer, Counter):
            _db.session.execute(delete(model))
        _db.session.commit()


def test_export_then_import_gives_back_the_same_customers_and_services(app, client, auth, world):
    app.config["ISP_TIMEZONE"] = "Africa/Nairobi"  # times travel with their offset
    with app.app_context():
        atomic(lambda: importer.run(ROUND_TRIP, Options(), None, "first.csv"))
    first = _snapshot(app)
    auth.login_as("admin")
    page = client.get("/imports/").get_data(as_text=True)
    exported = client.post("/imports/export/services-with-passwords.csv", data={"csrf_token": csrf_from(page), "understood": "y"})
    text = exported.get_data(as_text=True)
    rows = _rows(exported)
    assert len(rows) == 5 and rows[0]["name"] == "'=HYPERLINK(\"http://evil\")"  # a spreadsheet shows text, never runs it
    assert rows[0]["username"] == "'-jane" and rows[0]["password"] == "p=w,1" and rows[0]["balance"] == "-12.50"
    assert rows[0]["paid_until"] == f"{FUTURE}T13:45:00+03:00"
    _wipe(app)
    checked = upload(client, text.encode(), filename="services-with-passwords.csv").get_data(as_text=True)
    assert "Import 4 customers and 4 services" in checked
    confirm(client, checked)
    run_imports(app)
    second = _snapshot(app)
    assert second[0] == first[0] and second[1] == first[1]
    # Bob's suspended service stays suspended (his account is); every other field comes back as it was.
    assert second[2] == first[2]


def test_exports_leave_passwords_out_and_only_an_admin_gets_them_with_an_audit_entry(app, client, auth, world):
    with app.app_context():
        atomic(lambda: importer.run(ROUND_TRIP, Options(), None, "first.csv"))
    auth.login_as("operator")
    services = _rows(client.get("/imports/export/services.csv"))
    assert {r["username"] for r in services} == {"'-jane", "office", "bob", "cat", ""} and {r["password"] for r in services} == {""}
    customers = _rows(client.get("/imports/export/customers.csv"))
    assert list(customers[0]) == list(import_format.CUSTOMER_COLUMNS) and len(customers) == 4
    assert client.post("/imports/export/services-with-passwords.csv", data={"csrf_token": auth.token(), "understood": "y"}).status_code == 302
    auth.logout()
    auth.login_as("admin")
    refused = client.post("/imports/export/services-with-passwords.csv", data={"csrf_token": auth.token()}, follow_redirects=True)
    assert "Tick the box" in refused.get_data(as_text=True)
    with app.app_context():
        assert _db.session.scalar(select(func.count()).where(AuditEntry.action == "subscriptions.export_passwords")) == 0
    client.post("/imports/export/services-with-passwords.csv", data={"csrf_token": auth.token(), "understood": "y"})
    with app.app_context():
        assert _db.session.scalar(select(func.count()).where(AuditEntry.action == "subscriptions.export_passwords")) == 1


def test_a_reseller_exports_only_their_own_customers(app, client, auth, world, make_user):
    with app.app_context():
        atomic(lambda: importer.run(ROUND_TRIP, Options(), None, "first.csv"))
    reseller = auth.login_as("reseller")
    with app.app_context():  # a reseller who may sell services (one who may not exports nothing at all)
        _db.session.execute(User.__table__.update().where(User.id == reseller.id).values(can_sell_services=True))
        _db.session.commit()
    assert _rows(client.get("/imports/export/customers.csv")) == []
    with app.app_context():
        _db.session.execute(Customer.__table__.update().where(Customer.name == "Bob").values(reseller_id=reseller.id))
        _db.session.commit()
    assert [r["name"] for r in _rows(client.get("/imports/export/customers.csv"))] == ["Bob"]
    assert [(r["name"], r["username"], r["password"]) for r in _rows(client.get("/imports/export/services.csv"))] == [("Bob", "bob", "")]


def test_the_sample_file_passes_its_own_dry_run_once_its_plans_exist(app, client, auth, world):
    auth.login_as("operator")
    sample = client.get("/imports/sample.csv")
    assert sample.mimetype == "text/csv" and sample.data.startswith(b"account_no,name,")
    assert "Import 2 customers and 3 services" in upload(client, sample.data).get_data(as_text=True)


def test_a_file_or_mapping_that_cannot_be_read_is_shown_on_the_form(app, client, auth, world):
    auth.login_as("operator")
    latin = upload(client, "name\nJos\xe9\n".encode("latin-1"))
    assert latin.status_code == 422 and "The file is not UTF-8 (byte 0xe9 on line 2)" in latin.get_data(as_text=True)
    mapping = upload(client, CLEAN, plan_map="just words")
    assert mapping.status_code == 422 and "Line 1: write &#39;their name = our name&#39;." in mapping.get_data(as_text=True)
    assert _customers(app) == 0
