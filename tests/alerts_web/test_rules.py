"""Alert rules: a form per kind, validation on the field, admins only, audited with before and after."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from isp.extensions import db as _db
from isp.models import AlertRule, AlertScope, AuditEntry


def _post(client, auth, url, **fields):
    data = {"enabled": "y", "notify_recovery": "y", "scope": "all", **fields, "csrf_token": auth.token()}
    return client.post(url, data=data)


@pytest.mark.parametrize("kind, fields, message", [
    ("metric", {"metric": "cpu", "warning": "", "critical": ""}, "Give a warning or a critical threshold"),
    ("metric", {"metric": "cpu", "warning": "90", "critical": "70"}, "Critical must be at or above the warning"),
    ("metric", {"metric": "voltage", "below": "y", "warning": "11", "critical": "12"}, "Critical must be at or below"),
    ("metric", {"metric": "memory", "warning": "120"}, "Warning: at most 100"),
    ("metric", {"metric": "cpu", "warning": "lots"}, "Warning: &#39;lots&#39; is not a number"),
    ("metric", {"metric": "cpu", "warning": "70", "for_seconds": "1.5"}, "For: a whole number"),
    ("offline", {"seconds": "5"}, "Offline after: at least 10"),
    ("link_flap", {"count": "1", "window": "600"}, "Link downs: at least 2"),
    ("link_flap", {"count": "3", "window": ""}, "Within: required"),
    ("traffic_spike", {"warning": "0.5"}, "Warning: at least 1"),
    ("traffic_spike", {"warning": "3", "min_bps": "fast"}, "is not a rate such as 1M"),
    ("backlog", {"warning": "-1"}, "Warning: at least 0"),
    ("reseller_stock", {"warning": "5", "critical": "10"}, "Critical must be at or below"),
    ("metric", {"metric": "cpu", "warning": "70", "scope": "router", "router_id": ""}, "Choose the router"),
    ("metric", {"metric": "cpu", "warning": "70", "channels": ["email"], "recipient_email": "not-an-address"},
     "Type an email address"),
    ("metric", {"metric": "cpu", "warning": "70", "channels": ["sms"], "recipient_sms": ""}, "Where should SMS"),
    ("metric", {"metric": "cpu", "warning": "70", "channels": ["email"], "recipient_email": "noc@example.net",
                "escalate_channels": ["sms"], "recipient_sms": "+254700000001"}, "Say after how many minutes"),
])
def test_each_kind_refuses_bad_values_on_the_field(client, auth, kind, fields, message):
    auth.login_as("admin")
    response = _post(client, auth, f"/alerts/rules/new?kind={kind}", name="A rule", **fields)
    body = response.get_data(as_text=True)
    assert response.status_code == 422, body
    assert message in body
    assert 'class="field has-error"' in body
    with client.application.app_context():
        assert _db.session.scalar(select(AlertRule.id)) is None


def test_each_kind_has_its_own_form(client, auth):
    auth.login_as("admin")
    assert "Router metric" in client.get("/alerts/rules/new").get_data(as_text=True)
    offline = client.get("/alerts/rules/new?kind=offline").get_data(as_text=True)
    assert 'name="seconds"' in offline and 'name="warning"' not in offline
    flap = client.get("/alerts/rules/new?kind=link_flap").get_data(as_text=True)
    assert 'name="count"' in flap and 'name="window"' in flap and 'name="hysteresis"' not in flap
    spike = client.get("/alerts/rules/new?kind=traffic_spike").get_data(as_text=True)
    assert 'name="min_bps"' in spike and "× baseline" in spike and 'name="scope"' in spike
    stock = client.get("/alerts/rules/new?kind=reseller_stock").get_data(as_text=True)
    assert "Warning below (vouchers)" in stock and 'name="scope"' not in stock
    for channel in ("email", "sms", "webhook"):
        assert f'name="recipient_{channel}"' in stock


def test_admin_creates_edits_disables_and_deletes_a_rule_audited(app, client, auth, routers_two):
    auth.login_as("admin")
    response = _post(client, auth, "/alerts/rules/new?kind=traffic_spike", name="Spike <script>x()</script>",
                     warning="3", critical="6", hysteresis="0.5", for_seconds="120", min_bps="2M", scope="router",
                     router_id=str(routers_two.a.id), channels=["email"], recipient_email="noc@example.net, ops@example.net",
                     escalate_after_minutes="15", escalate_channels=["sms"], recipient_sms="+254 700 000 001")
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        rule = _db.session.scalar(select(AlertRule))
        assert rule.params == {"min_bps": 2_000_000} and rule.scope is AlertScope.router
        assert rule.router_id == routers_two.a.id and rule.channels == "email" and rule.escalate_channels == "sms"
        assert rule.recipients == {"email": "noc@example.net, ops@example.net", "sms": "+254700000001"}
        assert rule.escalate_after_minutes == 15 and rule.critical == 6
        rule_id = rule.id
    listing = client.get("/alerts/rules").get_data(as_text=True)
    assert "Spike &lt;script&gt;x()&lt;/script&gt;" in listing and "<script>x()" not in listing
    edit_page = client.get(f"/alerts/rules/{rule_id}/edit").get_data(as_text=True)
    assert 'value="2000000"' in edit_page and 'value="noc@example.net, ops@example.net"' in edit_page

    response = _post(client, auth, f"/alerts/rules/{rule_id}/edit", name="Spike", warning="4", critical="6",
                     hysteresis="0.5", for_seconds="120", min_bps="2M", scope="site", site="North")
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        rule = _db.session.get(AlertRule, rule_id)
        assert rule.scope is AlertScope.site and rule.site == "North" and rule.router_id is None and rule.warning == 4
        assert rule.channels == "" and rule.recipients == {} and rule.escalate_after_minutes is None
        entry = _db.session.scalar(select(AuditEntry).where(AuditEntry.action == "alert_rule.update"))
        assert "warning: 3.0 → 4.0" in entry.detail and "scope: 'router' → 'site'" in entry.detail
        assert "critical" not in entry.detail  # unchanged fields are not listed

    assert client.post(f"/alerts/rules/{rule_id}/enabled", data={"enabled": "0", "csrf_token": auth.token()}).status_code == 302
    with app.app_context():
        assert _db.session.get(AlertRule, rule_id).enabled is False
    assert client.post(f"/alerts/rules/{rule_id}/delete", data={"csrf_token": auth.token()}).status_code == 302
    with app.app_context():
        assert _db.session.get(AlertRule, rule_id) is None
        actions = set(_db.session.scalars(select(AuditEntry.action)))
        assert {"alert_rule.create", "alert_rule.update", "alert_rule.disable", "alert_rule.delete"} <= actions


def test_a_duplicate_name_is_refused(client, auth, make_rule):
    make_rule("CPU load")
    auth.login_as("admin")
    response = _post(client, auth, "/alerts/rules/new?kind=metric", name="cpu LOAD", metric="cpu", warning="70")
    assert response.status_code == 422 and "Another rule already has this name" in response.get_data(as_text=True)


def test_an_operator_sees_rules_but_cannot_change_them(app, client, auth, make_rule):
    rule_id = make_rule("CPU load")
    auth.login_as("operator")
    listing = client.get("/alerts/rules").get_data(as_text=True)
    assert "CPU load" in listing and "Add rule" not in listing and f"/alerts/rules/{rule_id}/edit" not in listing
    token = auth.token()
    htmx = {"HX-Request": "true"}
    assert client.get(f"/alerts/rules/{rule_id}/edit", headers=htmx).status_code == 403
    assert client.post(f"/alerts/rules/{rule_id}/edit", headers=htmx,
                       data={"name": "Hijacked", "metric": "cpu", "warning": "1", "csrf_token": token}).status_code == 403
    page = client.post(f"/alerts/rules/{rule_id}/edit", data={"name": "Hijacked", "metric": "cpu", "warning": "1",
                                                             "csrf_token": token}, follow_redirects=True)
    assert "Your role does not allow that." in page.get_data(as_text=True)
    assert client.post("/alerts/rules/new?kind=metric", data={"name": "New", "warning": "1", "csrf_token": token}).status_code == 302
    assert client.post(f"/alerts/rules/{rule_id}/delete", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        rules = list(_db.session.scalars(select(AlertRule)))
        assert [(r.name, r.warning) for r in rules] == [("CPU load", 70.0)]
        assert json.loads(rules[0].params_json) == {}
