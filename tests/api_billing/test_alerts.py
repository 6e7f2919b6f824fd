"""/api/v1/alerts: staff read the alert centre, acknowledge and resolve with the routers scope; resellers get 403."""
from __future__ import annotations

from isp.extensions import db as _db
from isp.models import Alert, AlertState, AuditEntry


def test_list_filters_and_acknowledge_then_resolve(app, client, bill, token, make_rule, make_alert):
    rule = make_rule()
    first = make_alert(rule, bill.router_id, severity="critical")
    second = make_alert(rule, None)
    make_alert(rule, bill.router_id, state="resolved")
    reader = token(bill.staff.id, "read")
    ids = lambda query: [a["id"] for a in client.get(f"/api/v1/alerts{query}", headers=reader).get_json()["items"]]  # noqa: E731
    assert ids("") == [second, first]  # open ones by default, newest first
    assert ids(f"?router_id={bill.router_id}") == [first]
    assert ids("?severity=critical") == [first]
    assert len(ids("?state=resolved")) == 1
    assert client.get(f"/api/v1/alerts/{first}", headers=reader).get_json()["severity"] == "critical"
    denied = client.post(f"/api/v1/alerts/{first}/acknowledge", json={"note": "on it"}, headers=reader)
    assert denied.status_code == 403
    ops = token(bill.staff.id, "read", "routers")
    acked = client.post(f"/api/v1/alerts/{first}/acknowledge", json={"note": "on it"}, headers=ops)
    assert acked.status_code == 200 and acked.get_json()["state"] == "acknowledged"
    assert acked.get_json()["ack_note"] == "on it" and acked.get_json()["acked_by_id"] == bill.staff.id
    again = client.post(f"/api/v1/alerts/{first}/acknowledge", json={}, headers=ops)
    assert again.status_code == 409 and "cannot be acknowledged" in again.get_json()["detail"]
    resolved = client.post(f"/api/v1/alerts/{first}/resolve", json={"note": "fan replaced"}, headers=ops)
    assert resolved.status_code == 200 and resolved.get_json()["state"] == "resolved"
    assert client.post(f"/api/v1/alerts/{first}/resolve", json={}, headers=ops).status_code == 409
    assert client.post("/api/v1/alerts/999999/resolve", json={}, headers=ops).status_code == 404
    with app.app_context():
        assert _db.session.get(Alert, first).state == AlertState.resolved
        vias = _db.session.scalars(_db.select(AuditEntry.via).where(AuditEntry.action.like("alerts.%"))).all()
        assert vias == ["api", "api"]


def test_reseller_tokens_get_403(client, bill, token, make_rule, make_alert):
    alert = make_alert(make_rule())
    headers = token(bill.agent().id, "read", "customers")
    for response in (client.get("/api/v1/alerts", headers=headers), client.get(f"/api/v1/alerts/{alert}", headers=headers)):
        assert response.status_code == 403 and "staff" in response.get_json()["detail"]
