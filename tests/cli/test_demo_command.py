"""`flask demo`: the logins land in instance/demo-credentials.txt (owner-only) and in a banner printed once all is up."""
from __future__ import annotations

import os
import re
import stat
import threading
import time

import pytest
from werkzeug.serving import make_server

from isp.extensions import db
from isp.jobs.maintenance import HEARTBEAT_KEY
from isp.models import LedgerEntry
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
    result = demo_app.test_cli_runner().invoke(args=["demo"])
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
        amounts = [e.amount for e in db.session.scalars(db.select(LedgerEntry).order_by(LedgerEntry.id))]
        assert sum(amounts) == 20 and sorted(amounts) == [-48, -32, 100]

    os.chmod(path, 0o644)  # a second run tightens the mode again and writes the new passwords
    again = demo_app.test_cli_runner().invoke(args=["demo"])
    assert again.exit_code == 0, again.output
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    new = _logins(open(path, encoding="utf-8").read())
    assert new["admin"][1] != logins["admin"][1]
    with demo_app.app_context():
        assert users.authenticate("shop", new["reseller"][1]) is not None
        assert users.authenticate("shop", logins["reseller"][1]) is None


def test_banner_waits_for_web_worker_and_clock(demo_app, monkeypatch):
    monkeypatch.setenv("ISP_DEMO_PASSWORD", "demo-pass-for-tests-7")
    server = make_server("127.0.0.1", 0, demo_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("HOST", "127.0.0.1")
    monkeypatch.setenv("PORT", str(server.server_port))  # as bin/demo exports them for every process
    runner = demo_app.test_cli_runner()
    try:
        assert runner.invoke(args=["demo"]).exit_code == 0
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
