"""`flask backup create` / `restore`: a populated instance comes back whole in a fresh one; a bad archive changes nothing."""
from __future__ import annotations

import gzip
import io
import json
import os
import stat
import tarfile
import time

from sqlalchemy import select

from isp.extensions import db
from isp.services import backup


def _cli(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def _state(app):
    with app.app_context():
        return backup.state(app)


def _balances(app):
    """Every ledger account's cached balance and the sum of its entries."""
    from sqlalchemy import func

    from isp.models import LedgerAccount, LedgerEntry

    with app.app_context():
        rows = db.session.execute(
            select(LedgerAccount.id, LedgerAccount.balance, func.coalesce(func.sum(LedgerEntry.amount), 0))
            .outerjoin(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id).group_by(LedgerAccount.id)
            .order_by(LedgerAccount.id)).all()
        db.session.remove()
        return [(i, f"{b:.2f}", f"{s:.2f}") for i, b, s in rows]


def _make_backup(app, tmp_path):
    result = _cli(app, "backup", "create", "--output", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    archives = list((tmp_path / "out").glob("isp-backup-*.tar.gz"))
    assert len(archives) == 1
    return str(archives[0]), result.output


def _rewrite(archive, dest, manifest_edit=None, member_edit=None):
    """A copy of an archive with its manifest and/or a data member altered (other members kept byte for byte)."""
    with tarfile.open(archive, "r:gz") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    manifest = json.loads(members.pop("manifest.json"))
    if member_edit:
        name = next(iter(manifest["sha256"]))
        members[name] = member_edit(members[name])
    if manifest_edit:
        manifest_edit(manifest, members)
    with tarfile.open(dest, "w:gz") as tar:
        for name, data in [("manifest.json", json.dumps(manifest).encode()), *members.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return str(dest)


def test_restore_into_a_fresh_instance_gives_back_every_row_and_balance(populated, fresh, tmp_path):
    before, balances = _state(populated), _balances(populated)
    archive, output = _make_backup(populated, tmp_path)
    assert "Backup written to" in output and "ISP_ENCRYPTION_KEY" in output
    assert stat.S_IMODE(os.stat(archive).st_mode) == 0o600

    with tarfile.open(archive, "r:gz") as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert manifest["revisions"] == before["revisions"] and manifest["revisions"]["main"]
    assert manifest["ledger"] == before["ledger"] and manifest["ledger"]["entries"] > 0
    assert manifest["ledger"]["balance_sum"] == manifest["ledger"]["entry_sum"]
    merged = {t: n for rows in manifest["counts"].values() for t, n in rows.items()}
    assert merged["vouchers"] == 12 and merged["radcheck"] == 4 and merged["payments"] == 3
    text = json.dumps(manifest)
    assert "password" not in text.lower().replace("cleartext-password", "") and "pw0" not in text

    target = fresh("restore")
    result = _cli(target, "backup", "restore", archive)
    assert result.exit_code == 0, result.output
    assert "Restored" in result.output and "vouchers 12" in result.output

    after = _state(target)
    for role, rows in before["counts"].items():
        for table, count in rows.items():
            expected = count + 1 if table == "audit_log" else count  # + the restore's own entry
            assert after["counts"][role][table] == expected, (role, table)
    assert _balances(target) == balances
    assert after["ledger"] == before["ledger"]
    with target.app_context():
        from isp.models import AuditEntry

        last = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert (last.action, last.via, last.actor_id) == ("backup.restore", "cli", None)
    with populated.app_context():
        from isp.models import AuditEntry

        assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "backup.create")).via == "cli"


def test_restore_refuses_a_database_that_holds_data_unless_confirmed(populated, tmp_path):
    archive, _ = _make_backup(populated, tmp_path)
    before = _state(populated)
    result = _cli(populated, "backup", "restore", archive)
    assert result.exit_code != 0 and "not empty" in result.output and "--yes" in result.output
    assert "Traceback" not in result.output
    assert _state(populated)["counts"] == before["counts"]
    result = _cli(populated, "backup", "restore", archive, "--yes")
    assert result.exit_code == 0, result.output


def test_a_damaged_archive_is_refused_and_nothing_changes(populated, fresh, tmp_path):
    archive, _ = _make_backup(populated, tmp_path)
    target = fresh("restore")
    assert _cli(target, "backup", "restore", archive).exit_code == 0
    before, balances = _state(target), _balances(target)

    flipped = tmp_path / "flipped.tar.gz"
    data = bytearray(open(archive, "rb").read())
    data[len(data) // 2] ^= 0xFF
    flipped.write_bytes(bytes(data))
    result = _cli(target, "backup", "restore", str(flipped), "--yes")
    assert result.exit_code != 0
    assert "restore refused" in result.output and "damaged" in result.output and "Traceback" not in result.output

    # A byte changed inside the data itself, the archive still a valid tar.gz: the checksum catches it.
    tampered = _rewrite(archive, tmp_path / "tampered.tar.gz",
                        member_edit=lambda b: b[:-100] + bytes([b[-100] ^ 1]) + b[-99:])
    result = _cli(target, "backup", "restore", tampered, "--yes")
    assert result.exit_code != 0 and "checksum" in result.output and "Traceback" not in result.output

    assert _state(target)["counts"] == before["counts"] and _balances(target) == balances


def test_a_backup_from_a_newer_version_is_refused(populated, fresh, tmp_path):
    archive, _ = _make_backup(populated, tmp_path)
    target = fresh("restore")

    def newer(manifest, members):
        manifest["revisions"]["main"] = "0099_from_the_future"

    result = _cli(target, "backup", "restore", _rewrite(archive, tmp_path / "newer.tar.gz", manifest_edit=newer))
    assert result.exit_code != 0 and "newer version" in result.output and "0099_from_the_future" in result.output
    assert backup.is_empty(_state(target)) and not any(_state(target)["counts"]["main"])  # not even tables created


def test_an_older_backup_is_upgraded_after_the_restore(fresh, tmp_path):
    old = fresh("old", migrate="0015_customer_search")
    assert _state(old)["revisions"]["main"] == "0015_customer_search"
    archive, _ = _make_backup(old, tmp_path)
    target = fresh("restore")
    result = _cli(target, "backup", "restore", archive)
    assert result.exit_code == 0, result.output
    assert "schema upgraded" in result.output
    with target.app_context():
        head = backup._scripts(target)["main"].get_current_head()
    assert _state(target)["revisions"]["main"] == head != "0015_customer_search"


def test_cli_errors_are_messages_not_tracebacks(app, tmp_path):
    result = _cli(app, "backup", "restore", str(tmp_path / "missing.tar.gz"))
    assert result.exit_code != 0 and "no such file" in result.output and "Traceback" not in result.output
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(gzip.compress(b"not a tar at all"))
    result = _cli(app, "backup", "restore", str(junk))
    assert result.exit_code != 0 and "not a backup" in result.output
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = _cli(app, "backup", "create", "--output", str(blocker / "sub"))
    assert result.exit_code != 0 and "backup failed" in result.output and "Traceback" not in result.output


def test_database_passwords_go_in_a_private_option_file_never_on_the_command_line(monkeypatch, tmp_path):
    from sqlalchemy.engine import make_url

    seen = {}

    def fake_run(args, stdout=None, stderr=None, check=False):
        cnf = next(a for a in args if a.startswith("--defaults-file=")).split("=", 1)[1]
        seen["args"], seen["mode"], seen["text"] = args, stat.S_IMODE(os.stat(cnf).st_mode), open(cnf).read()
        seen["cnf"] = cnf
        stdout.write(b"USE `isp`;\nINSERT INTO `t` VALUES (1,'a),(b'),\n(2,'x\\'y;(');\n")
        return type("Done", (), {"returncode": 0, "stderr": b""})()

    monkeypatch.setattr(backup.subprocess, "run", fake_run)
    monkeypatch.setattr(backup, "_tool", lambda *names: "/usr/bin/mysqldump")
    url = make_url('mysql+pymysql://isp:s3cr"t\\pw@db.example:3307/isp')
    backup._mysql_dump(backup.Target(url, {"main": "isp"}), str(tmp_path / "main.sql"))
    assert not any("s3cr" in a for a in seen["args"]) and "--single-transaction" in seen["args"]
    assert seen["mode"] == 0o600 and 'password="s3cr\\"t\\\\pw"' in seen["text"] and "port=3307" in seen["text"]
    assert not os.path.exists(seen["cnf"])  # removed once the dump ends
    assert backup.dump_counts(str(tmp_path / "main.sql"), {"main": "isp"}) == {"main": {"t": 2}}


def test_a_backup_of_another_database_layout_is_refused_before_anything_is_dropped(populated, fresh, tmp_path):
    import pytest

    if populated.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite keeps both in one file: there is one layout")
    archive, _ = _make_backup(populated, tmp_path)
    target = fresh("restore")
    assert _cli(target, "backup", "restore", archive).exit_code == 0
    before = _state(target)

    def two_phase(manifest, members):  # as if the radius database had been on another server
        manifest["radius_mode"], manifest["layout"] = "two-phase", {"main.sql": ["main"]}

    result = _cli(target, "backup", "restore", _rewrite(archive, tmp_path / "tp.tar.gz", manifest_edit=two_phase), "--yes")
    assert result.exit_code != 0 and "'two-phase' layout" in result.output and "Traceback" not in result.output
    assert _state(target)["counts"] == before["counts"]


def test_a_backup_taken_while_money_moves_is_consistent(populated, fresh, tmp_path):
    import threading
    from decimal import Decimal

    from isp.models import EntryKind, User
    from isp.services import ledger

    stop, posted = threading.Event(), []

    def cashier():
        with populated.app_context():
            account_user = db.session.scalar(select(User).where(User.role == "reseller"))
            while not stop.is_set():
                ledger.post(ledger.account_for(account_user), EntryKind.topup, Decimal("1.00"), "busy desk")
                db.session.commit()
                posted.append(1)

    thread = threading.Thread(target=cashier)
    thread.start()
    try:
        while len(posted) < 3:
            time.sleep(0.01)
        archive, _ = _make_backup(populated, tmp_path)
    finally:
        stop.set()
        thread.join()
    with tarfile.open(archive, "r:gz") as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert manifest["ledger"]["balance_sum"] == manifest["ledger"]["entry_sum"]
    target = fresh("restore")
    assert _cli(target, "backup", "restore", archive).exit_code == 0
    assert all(balance == total for _, balance, total in _balances(target))
    restored = _state(target)["ledger"]
    assert restored["balance_sum"] == restored["entry_sum"]
    if populated.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        assert restored == manifest["ledger"]  # the totals were read off the copy itself
    else:  # read in their own snapshot just before the dump's
        assert restored["entries"] >= manifest["ledger"]["entries"]
