"""The queued run: whoever confirmed is checked again when it starts; a run that dies or errs says whether it wrote."""
from __future__ import annotations

from datetime import date, timedelta

from rq.job import Job
from sqlalchemy import select

from isp.extensions import db as _db
from isp.jobs.imports import run_import
from isp.models import AuditEntry, User
from isp.services import importer
from isp.services.import_checks import Options
from isp.transaction import atomic
from tests.imports.conftest import confirm, confirm_token, csv_bytes, import_jobs, run_imports, upload

FUTURE = (date.today() + timedelta(days=45)).isoformat()
CLEAN = csv_bytes(f",Jane,0712345678,,,,,,,,,5.00,pppoe,jane,pw-jane,Home 10M,core-1,,,{FUTURE},yes",
                  ",Bob,0722000111,,,,,,,,,,,,,,,,,,")


def _started(client, auth, role="operator", filename="customers.csv"):
    """Log in, dry-run CLEAN and confirm it; returns (user, run page URL, token)."""
    user = auth.login_as(role)
    page = upload(client, CLEAN, filename=filename).get_data(as_text=True)
    return user, confirm(client, page).headers["Location"], confirm_token(page)


def test_the_run_page_shows_the_file_name_escaped_while_waiting_and_when_done(app, client, auth, world):
    _, run_url, _ = _started(client, auth, filename="<img src=y onerror=z>.csv")
    for _ in range(2):
        html = client.get(run_url).get_data(as_text=True)
        assert "<img src=y" not in html and "&lt;img src=y onerror=z&gt;.csv" in html
        run_imports(app)
    assert 'data-state="done"' in html


def test_an_account_disabled_before_the_worker_starts_imports_nothing(app, client, auth, world, counts):
    user, run_url, _ = _started(client, auth)
    with app.app_context():
        _db.session.get(User, user.id).active = False
        _db.session.commit()
    before = counts()
    run_imports(app)
    assert counts() == before
    auth.login_as("operator")  # the disabled account's session is over; the run stays its own
    assert client.get(run_url).status_code == 404
    with app.app_context():
        assert importer.status(run_url.rpartition("=")[2], user.id).outcome["message"] == (
            "The account that confirmed this import may no longer import: nothing was written.")


def test_a_file_gone_before_the_worker_starts_imports_nothing(app, client, auth, world, counts):
    _, run_url, token = _started(client, auth)
    app.config["REDIS_CLIENT"].delete("isp:import:" + token)  # expired while the job waited
    before = counts()
    run_imports(app)
    html = client.get(run_url).get_data(as_text=True)
    assert counts() == before and 'data-state="failed"' in html and "no longer on the server" in html


def test_an_error_in_the_run_is_reported_and_nothing_stays(app, client, auth, world, counts, monkeypatch):
    _, run_url, _ = _started(client, auth)
    real = importer._write

    def write_then_fail(*args):
        real(*args)  # every row is flushed, then the unit fails before its commit
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(importer, "_write", write_then_fail)
    before = counts()
    run_imports(app)
    assert counts() == before
    html = client.get(run_url).get_data(as_text=True)
    assert 'data-state="failed"' in html and "failed on the server" in html and "disk on fire" not in html
    with app.app_context():
        failed = Job.fetch(importer.run_job_id(run_url.rpartition("=")[2]), connection=app.config["REDIS_CLIENT"])
        assert failed.is_failed  # the worker's failed registry keeps the traceback for the operator


def test_a_run_whose_job_vanished_says_nothing_was_written(app, client, auth, world, counts, monkeypatch):
    _, run_url, token = _started(client, auth)
    Job.fetch(importer.run_job_id(token), connection=app.config["REDIS_CLIENT"]).delete()  # dropped from the queue
    monkeypatch.setattr(importer, "START_GRACE", 0)
    html = client.get(run_url).get_data(as_text=True)
    assert 'data-state="lost"' in html and "stopped before it was written" in html and "hx-get" not in html
    assert counts()["customers"] == 0


def test_a_run_that_committed_but_never_reported_says_so(app, client, auth, world, monkeypatch):
    user, run_url, token = _started(client, auth, role="admin")
    with app.app_context():  # what a worker killed between its commit and its report leaves behind
        atomic(lambda: importer.run(CLEAN, Options(), _db.session.get(User, user.id), "customers.csv", importer.run_ref(token)))
    Job.fetch(importer.run_job_id(token), connection=app.config["REDIS_CLIENT"]).delete()
    monkeypatch.setattr(importer, "START_GRACE", 0)
    html = client.get(run_url).get_data(as_text=True)
    assert 'data-state="lost"' in html and "Imported, without a report" in html and "2 customers, 1 services" in html
    assert "Nothing was imported" not in html and import_jobs(app) == []
    with app.app_context():
        assert _db.session.scalar(select(AuditEntry.actor_id).where(AuditEntry.action == "customers.import")) == user.id


def test_the_same_run_queued_twice_imports_once_and_keeps_its_outcome(app, client, auth, world, counts):
    user, run_url, token = _started(client, auth)
    run_imports(app)
    imported = counts()
    with app.app_context():  # the job's function run again (a copy of the job, or a hand re-queue)
        assert run_import(token, user.id) == "started before"
    assert counts() == imported and imported["customers"] == 2
    assert 'data-state="done"' in client.get(run_url).get_data(as_text=True)
