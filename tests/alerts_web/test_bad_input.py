"""Dates at the ends of the calendar never give a 500: the alert list and its CSV drop the filter, a maintenance
window with such a date is refused on the field."""
from __future__ import annotations

import pytest

from isp.extensions import db as _db
from isp.models import MaintenanceWindow


@pytest.mark.parametrize("tz", ["Africa/Nairobi", "America/Los_Angeles", "UTC"])
@pytest.mark.parametrize("query", ["date_to=9999-12-31", "date_from=0001-01-01", "date_from=0001-01-01&date_to=9999-12-31"])
def test_the_alert_list_and_csv_drop_a_date_filter_at_the_calendars_ends(app, client, auth, make_rule, make_alert,
                                                                         tz, query):
    app.config["ISP_TIMEZONE"] = tz
    make_alert(make_rule())
    auth.login_as("operator")
    for tab in ("open", "resolved"):
        response = client.get(f"/alerts/?tab={tab}&{query}")
        assert response.status_code == 200
    page = client.get(f"/alerts/?{query}").get_data(as_text=True)
    assert "alert 1" in page  # the filter was dropped: the alert is still listed
    csv = client.get(f"/alerts/alerts.csv?{query}")
    assert csv.status_code == 200 and "alert 1" in csv.get_data(as_text=True)


@pytest.mark.parametrize("tz", ["Africa/Nairobi", "America/Los_Angeles"])
@pytest.mark.parametrize("fields", [{"ends": "9999-12-31T23:59"}, {"starts": "0001-01-01T00:00", "ends": "0001-01-02T00:00"}])
def test_a_maintenance_window_at_the_calendars_ends_is_refused_on_the_field(app, client, auth, routers_two, tz, fields):
    app.config["ISP_TIMEZONE"] = tz
    auth.login_as("operator")
    response = client.post("/alerts/maintenance", data={"target": "router", "router_id": str(routers_two.a.id),
                                                         "reason": "Uplink swap", **fields, "csrf_token": auth.token()})
    assert response.status_code == 422, response.status_code
    assert "a year between 1970 and 9998" in response.get_data(as_text=True)
    with app.app_context():
        assert _db.session.query(MaintenanceWindow).count() == 0
