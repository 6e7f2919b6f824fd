"""Plans: validation in the operator's notation, and the profile pushed to each router."""
from sqlalchemy import select

from isp.extensions import db as _db
from isp.models import HotspotPlan, RouterCommand
from tests.conftest import run_worker


def _form(**kw):
    data = {"name": "Day pass", "price": "5.00", "reseller_price": "4.00", "validity": "1d", "time_quota": "",
            "data_quota": "2G", "rate_limit": "2M/4M", "shared_users": "1", "active": "y"}
    data.update(kw)
    return data


def test_invalid_values_are_refused_with_clear_errors(client, auth, make_router):
    auth.login_as("operator")
    token = auth.token()
    cases = {
        "validity": ("30", "needs a unit"),
        "rate_limit": ("fast please", "is not a RouterOS rate limit"),
        "data_quota": ("lots", "is not a size"),
        "price": ("ten", "is not an amount"),
        "reseller_price": ("9.00", "cannot be above the price"),
        "time_quota": ("1x", "is not a duration"),
    }
    for field, (value, message) in cases.items():
        response = client.post("/plans/new", data={**_form(reseller_price="4.00"), field: value, "csrf_token": token})
        assert response.status_code == 422, field
        assert message in response.get_data(as_text=True), field
    with client.application.app_context():
        assert _db.session.scalar(select(HotspotPlan.id)) is None


def test_saving_a_plan_pushes_its_profile_and_editing_repushes(app, client, auth, sim, make_router):
    router = make_router(sim.routers[0])
    auth.login_as("admin")
    response = client.post("/plans/new", data={**_form(name="Week <b>pass</b>", validity="1w", rate_limit="1M/2M 2M/4M 768k/1536k 16/16"),
                                               "router_ids": [router.id], "csrf_token": auth.token()})
    assert response.status_code == 302
    listing = client.get("/plans/").get_data(as_text=True)
    assert "Week &lt;b&gt;pass&lt;/b&gt;" in listing and "1w" in listing
    run_worker(app)
    with app.app_context():
        plan = _db.session.scalar(select(HotspotPlan))
        profile_name, plan_id = plan.profile_name, plan.id
    profile = next(p for p in sim.routers[0].state.rows("/ip/hotspot/user/profile") if p["name"] == profile_name)
    assert profile["rate-limit"] == "1M/2M 2M/4M 768k/1536k 16/16" and profile["shared-users"] == "1"
    edit = client.get(f"/plans/{plan_id}/edit").get_data(as_text=True)
    assert 'value="1w"' in edit and 'value="2G"' in edit
    client.post(f"/plans/{plan_id}/edit", data={**_form(name="Week pass", validity="1w", rate_limit="3M/6M", shared_users="2"),
                                                "router_ids": [router.id], "csrf_token": auth.token()})
    run_worker(app)
    profile = next(p for p in sim.routers[0].state.rows("/ip/hotspot/user/profile") if p["name"] == profile_name)
    assert profile["rate-limit"] == "3M/6M" and profile["shared-users"] == "2"
    with app.app_context():
        assert _db.session.scalar(select(RouterCommand.state).order_by(RouterCommand.id.desc())).value == "done"
