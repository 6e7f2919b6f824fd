"""In-app navigation (hx-boost) renders the whole dashboard, so an admin keeps "Recent activity"."""
from __future__ import annotations

from isp.extensions import db
from tests.dashboard.conftest import HX


def test_a_boosted_navigation_to_the_dashboard_keeps_recent_activity(app, client, auth):
    auth.login_as("admin")
    with app.app_context():
        from isp.services import audit
        audit.record(None, "router.create", "zulu")
        db.session.commit()
    boosted = client.get("/", headers={"HX-Request": "true", "HX-Boosted": "true"}).get_data(as_text=True)
    assert "Recent activity" in boosted and "zulu" in boosted
    assert "Recent activity" not in client.get("/", headers=HX).get_data(as_text=True)  # the 10-s poll: live block only
