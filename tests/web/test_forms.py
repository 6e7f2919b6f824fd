"""The one form path: a deadlock while saving is invisible to the operator; the unit is saved and queued once."""
from rq import Queue
from sqlalchemy import func, select

from isp.extensions import db as _db
from isp.models import AuditEntry, HotspotPlan, RouterCommand, User
from tests.services.test_transaction import lock_errors


def _engine(app):
    with app.app_context():
        return _db.engine


def _count(app, stmt) -> int:
    with app.app_context():
        return _db.session.scalar(stmt)


def test_a_deadlock_while_saving_a_plan_is_retried_and_the_profile_push_queued_once(app, client, auth, make_router):
    router = make_router()
    auth.login_as("admin")
    data = {"name": "Day pass", "price": "5.00", "reseller_price": "4.00", "validity": "1d", "time_quota": "",
            "data_quota": "", "rate_limit": "2M/4M", "shared_users": "1", "active": "y", "router_ids": [router.id],
            "csrf_token": auth.token()}
    # The audit row is the last INSERT of the unit, written at commit: after the push was queued for after-commit.
    with lock_errors(_engine(app), "audit_log", fail={1}):
        response = client.post("/plans/new", data=data, follow_redirects=True)
    assert response.status_code == 200
    assert "Plan &#39;Day pass&#39; saved" in response.get_data(as_text=True)
    assert _count(app, select(func.count()).select_from(HotspotPlan)) == 1
    assert _count(app, select(func.count()).where(AuditEntry.action == "plan.create")) == 1
    assert _count(app, select(func.count()).select_from(RouterCommand)) == 1
    assert Queue("high", connection=app.config["REDIS_CLIENT"]).count == 1  # the first run's enqueue was dropped


def test_a_deadlock_on_a_button_form_is_retried_and_flashed_once(app, client, auth, make_user):
    auth.login_as("admin")
    other = make_user("operator")
    with lock_errors(_engine(app), "audit_log", fail={1}):
        page = client.post(f"/settings/users/{other.id}/disable", data={"csrf_token": auth.token()}, follow_redirects=True)
    assert page.status_code == 200
    assert page.get_data(as_text=True).count(f"{other.username} is disabled.") == 1
    assert _count(app, select(func.count()).where(AuditEntry.action == "user.disable")) == 1
    assert _count(app, select(User.active).where(User.id == other.id)) is False


def test_a_lock_that_never_clears_is_an_error_page_and_nothing_is_saved(app, client, auth):
    auth.login_as("admin")
    data = {"name": "Week pass", "price": "9.00", "reseller_price": "", "validity": "1w", "time_quota": "",
            "data_quota": "", "rate_limit": "2M/4M", "shared_users": "1", "active": "y", "csrf_token": auth.token()}
    with lock_errors(_engine(app), "hotspot_plans", fail=set(range(1, 10))):
        response = client.post("/plans/new", data=data)
    assert response.status_code == 500
    assert _count(app, select(func.count()).select_from(HotspotPlan)) == 0
