"""Settings → Billing: what a suspension and a plan edit do on radius-mode routers."""
from __future__ import annotations

import pytest

from isp.extensions import db as _db
from isp.radius.models import RadGroupCheck, RadGroupReply
from isp.services import branding
from tests.radius_writers.conftest import rows

GOOD = {"account_prefix": "ISP-", "account_digits": "6", "invoice_prefix": "INV-", "receipt_prefix": "RCT-",
        "default_grace_days": "3", "suspend_mode": "disable", "reminder_days": "3,1", "agent_commission_percent": "0"}


def _saved(app) -> tuple[str, str]:
    with app.app_context():
        row = branding.get()
        return row.radius_suspend_action, row.radius_plan_change_action


def test_admin_chooses_the_walled_garden_and_the_suspended_group_follows(app, client, auth, radius_db):
    auth.login_as("admin")
    page = client.get("/settings/").get_data(as_text=True)
    assert 'data-test="radius_suspend_action"' in page and "Walled garden" in page and "CoA" in page
    assert _saved(app) == ("reject", "coa")
    response = client.post("/settings/billing", data={"csrf_token": auth.token(), **GOOD,
                                                      "radius_suspend_action": "walled-garden",
                                                      "radius_plan_change_action": "disconnect"})
    assert response.status_code == 302
    assert _saved(app) == ("walled-garden", "disconnect")
    with app.app_context():
        assert rows(RadGroupCheck, "isp-suspended") == set()  # no longer refused
        assert ("Mikrotik-Address-List", "=", "isp-suspended") in rows(RadGroupReply, "isp-suspended")
    client.post("/settings/billing", data={"csrf_token": auth.token(), **GOOD, "radius_suspend_action": "reject"})
    with app.app_context():
        assert rows(RadGroupCheck, "isp-suspended") == {("Auth-Type", ":=", "Reject")}
        assert rows(RadGroupReply, "isp-suspended") == set()


@pytest.mark.parametrize("field", ["radius_suspend_action", "radius_plan_change_action"])
def test_an_unknown_choice_is_refused(app, client, auth, radius_db, field):
    auth.login_as("admin")
    response = client.post("/settings/billing", data={"csrf_token": auth.token(), **GOOD, field: "shutdown"})
    assert response.status_code == 422 and "Not a valid choice" in response.get_data(as_text=True)
    assert _saved(app) == ("reject", "coa")


def test_the_service_refuses_an_unknown_choice_too(app, radius_db):
    from isp.services.errors import ServiceError

    with app.app_context(), pytest.raises(ServiceError, match="RADIUS suspension: choose 'reject' or 'walled-garden'"):
        branding.check_billing({**GOOD, "radius_suspend_action": "drop"})
    with app.app_context():
        assert "radius_plan_change_action" not in branding.check_billing(GOOD)  # left out: kept as it is
        _db.session.rollback()


def test_switching_back_to_reject_disconnects_the_walled_garden_sessions(app, client, auth, world):
    from isp.models import Subscription
    from isp.services import provisioning
    from tests.radius_writers.conftest import commands

    auth.login_as("admin")
    client.post("/settings/billing", data={"csrf_token": auth.token(), **GOOD, "radius_suspend_action": "walled-garden"})
    plan = world.plan()
    walled, paying = world.sub(plan, "wally", state="suspended"), world.sub(plan, "payne")
    with app.app_context():
        provisioning.sync_many([walled, paying])
        _db.session.commit()
        assert _db.session.get(Subscription, walled).state.value == "suspended"
    world.online("wally")
    world.online("payne")
    client.post("/settings/billing", data={"csrf_token": auth.token(), **GOOD, "radius_suspend_action": "reject"})
    with app.app_context():
        assert commands() == [("radius.disconnect", "wally", "critical")]
