"""The diff itself: changed fields only, secrets masked whether they changed or not, JSON columns read."""
from __future__ import annotations

from types import SimpleNamespace

from isp.services import audit
from isp.services.audit_log import label, shown


def _row(**fields):
    return SimpleNamespace(**fields)


def test_only_changed_fields_and_a_secret_only_when_it_changed():
    row = _row(name="a", password_encrypted="cipher-1", notes="")
    before = audit.snapshot(row, ("name", "password_encrypted", "notes"))
    row.name = "b"
    assert audit.changed(before, row) == {"name": ["a", "b"]}  # the same secret: not reported
    row.password_encrypted = "cipher-2"
    assert audit.changed(before, row) == {"name": ["a", "b"], "password_encrypted": [audit.MASK, audit.MASK]}
    row.password_encrypted = ""
    assert audit.changed(before, row)["password_encrypted"] == [audit.MASK, None]


def test_a_json_column_is_read_and_its_secret_keys_masked():
    row = _row(config_json='{"host": "smtp.a", "password": "Hunter-22"}')
    before = audit.snapshot(row, ("config_json",))
    row.config_json = '{"host": "smtp.b", "password": "Hunter-23"}'
    change = audit.changed(before, row)["config_json"]
    assert change == [{"host": "smtp.a", "password": audit.MASK}, {"host": "smtp.b", "password": audit.MASK}]
    assert "Hunter" not in str(change)


def test_secret_names_and_readable_labels():
    assert audit.is_secret("radius_secret_encrypted") and audit.is_secret("token_hash") and audit.is_secret("code")
    assert not audit.is_secret("wg_public_key") and not audit.is_secret("code_length")
    assert label("password_encrypted") == "password" and label("plan_id") == "plan" and label("api_port") == "api port"
    assert shown(None) == "—" and shown(True) == "yes" and shown(["a", "b"]) == "a, b" and shown({"x": 1}) == "x: 1"
