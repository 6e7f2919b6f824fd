"""Maintenance windows: typed in the operator's timezone, stored in UTC, bounded, ended and deleted, audited."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from isp.extensions import db as _db
from isp.models import AuditEntry, MaintenanceWindow
from isp.services import periods


def _local(moment: datetime, tz: str = "Africa/Nairobi") -> str:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M")


def _post(client, auth, **fields):
    return client.post("/alerts/maintenance", data={"target": "router", "reason": "Uplink swap", **fields,
                                                    "csrf_token": auth.token()})


def test_a_window_typed_in_the_operators_timezone_is_stored_in_utc(app, client, auth, routers_two):
    app.config["ISP_TIMEZONE"] = "Africa/Nairobi"  # UTC+3, no DST
    user = auth.login_as("operator")
    start = (periods.second() + timedelta(days=2)).replace(hour=10, minute=0, second=0)
    local_start = start.astimezone(UTC).replace(tzinfo=None)  # wall clock 10:00 typed by the operator in Nairobi
    typed_start = local_start.strftime("%Y-%m-%dT%H:%M")
    typed_end = (local_start + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M")
    response = _post(client, auth, router_id=str(routers_two.a.id), starts=typed_start, ends=typed_end,
                     reason="Radio <script>swap()</script>")
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        window = _db.session.scalar(select(MaintenanceWindow))
        assert window.starts_at == local_start.replace(tzinfo=UTC) - timedelta(hours=3)
        assert window.ends_at - window.starts_at == timedelta(hours=4)
        assert window.router_id == routers_two.a.id and window.created_by_id == user.id
        assert _db.session.scalar(select(AuditEntry.target).where(AuditEntry.action == "maintenance.create")) == "router core-a"
    upcoming = client.get("/alerts/maintenance?tab=upcoming").get_data(as_text=True)
    assert local_start.strftime("%Y-%m-%d %H:%M") in upcoming  # shown back in Nairobi time
    assert "Radio &lt;script&gt;swap()&lt;/script&gt;" in upcoming and "<script>swap()" not in upcoming
    assert "core-a" in upcoming and "Nothing is in maintenance now." in client.get("/alerts/maintenance").get_data(as_text=True)


def test_bad_windows_are_refused_on_the_field(app, client, auth, routers_two):
    auth.login_as("operator")
    now = periods.second()
    cases = [
        ({"router_id": str(routers_two.a.id), "ends": _local(now - timedelta(hours=1), "UTC")}, "Ends is already past"),
        ({"router_id": str(routers_two.a.id), "starts": _local(now + timedelta(hours=5), "UTC"),
          "ends": _local(now + timedelta(hours=4), "UTC")}, "Ends must be after it starts"),
        ({"router_id": str(routers_two.a.id), "ends": _local(now + timedelta(days=32), "UTC")}, "At most 31 days"),
        ({"router_id": str(routers_two.a.id), "ends": "tomorrow"}, "a date and time such as"),
        ({"router_id": "", "ends": _local(now + timedelta(hours=1), "UTC")}, "Choose the router"),
        ({"target": "site", "site": "Atlantis", "ends": _local(now + timedelta(hours=1), "UTC")}, "Choose one of the routers"),
        ({"router_id": str(routers_two.a.id), "ends": _local(now + timedelta(hours=1), "UTC"), "reason": ""}, "Say why"),
    ]
    for fields, message in cases:
        response = _post(client, auth, **fields)
        assert response.status_code == 422, fields
        assert message in response.get_data(as_text=True), fields
    with app.app_context():
        assert _db.session.scalar(select(MaintenanceWindow.id)) is None


def test_a_time_the_clocks_skip_is_refused(app, client, auth, routers_two):
    app.config["ISP_TIMEZONE"] = "Europe/Berlin"
    auth.login_as("admin")
    response = _post(client, auth, router_id=str(routers_two.a.id), starts="2027-03-28T02:30", ends="2027-03-28T05:00")
    assert response.status_code == 422 and "does not exist in Europe/Berlin" in response.get_data(as_text=True)


def test_a_site_window_ends_now_and_is_deleted(app, client, auth, routers_two):
    auth.login_as("operator")
    response = _post(client, auth, target="site", site="South", ends=_local(periods.second() + timedelta(hours=2), "UTC"))
    assert response.status_code == 302
    current = client.get("/alerts/maintenance").get_data(as_text=True)
    assert "site South" in current
    with app.app_context():
        window_id = _db.session.scalar(select(MaintenanceWindow.id))
    assert client.post(f"/alerts/maintenance/{window_id}/end", data={"csrf_token": auth.token()}).status_code == 302
    with app.app_context():
        window = _db.session.get(MaintenanceWindow, window_id)
        assert window.ends_at <= periods.second()
    assert "site South" in client.get("/alerts/maintenance?tab=past").get_data(as_text=True)
    assert client.post(f"/alerts/maintenance/{window_id}/delete", data={"csrf_token": auth.token()}).status_code == 302
    with app.app_context():
        assert _db.session.get(MaintenanceWindow, window_id) is None
        actions = set(_db.session.scalars(select(AuditEntry.action)))
        assert {"maintenance.create", "maintenance.end", "maintenance.delete"} <= actions


def test_windows_page_by_ids(app, client, auth, routers_two):
    app.config["PAGE_SIZE"] = 5
    now = periods.second()
    with app.app_context():
        for i in range(7):
            _db.session.add(MaintenanceWindow(router_id=routers_two.a.id, starts_at=now - timedelta(days=3),
                                              ends_at=now - timedelta(days=2), reason=f"old {i}"))
        _db.session.commit()
    auth.login_as("operator")
    first = client.get("/alerts/maintenance?tab=past").get_data(as_text=True)
    second = client.get("/alerts/maintenance?tab=past&page=2").get_data(as_text=True)
    assert "old 6" in first and "old 2" in first and "old 1" not in first
    assert "old 1" in second and "old 0" in second and "Page 2 of 2" in second
