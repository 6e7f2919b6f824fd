"""Status badges: one casing on every page, and every kind has a coloured background."""
from __future__ import annotations

import re

from isp.extensions import db
from isp.models import User

BADGE = re.compile(r'<span[^>]*class="badge badge-(\w+)"[^>]*>([^<]*)</span>')


def _badges(html: str) -> list[tuple[str, str]]:
    """(kind, text) of every status badge on a page."""
    return BADGE.findall(html)


def test_active_reads_the_same_on_users_resellers_and_plans(app, client, auth, make_user, make_router, make_plan):
    make_user("reseller", username="shop")
    off = make_user("operator", username="gone")
    with app.app_context():
        db.session.get(User, off.id).active = False
        db.session.commit()
    router = make_router()
    make_plan([router.id], name="Old plan", active=False)
    make_plan([router.id], name="New plan")
    auth.login_as("admin")
    shown = {page: _badges(client.get(page).get_data(as_text=True)) for page in ("/settings/users/", "/resellers/", "/plans/")}
    assert ("ok", "Active") in shown["/settings/users/"] and ("off", "Disabled") in shown["/settings/users/"]
    assert ("ok", "Active") in shown["/resellers/"]
    assert ("ok", "Active") in shown["/plans/"] and ("off", "Inactive") in shown["/plans/"]
    edit = client.get(f"/settings/users/{off.id}").get_data(as_text=True)
    assert ("off", "Disabled") in _badges(edit)
    for badges in shown.values():
        assert all(text[:1].isupper() for _, text in badges), badges


def test_unused_and_pending_vouchers_have_a_coloured_badge(app, client, auth, make_router, make_plan, generate):
    admin = auth.login_as("admin")
    router = make_router()
    plan = make_plan([router.id])
    batch_id = generate(admin.id, plan.id, 3)  # no worker ran: unused on the panel, pending towards the router
    html = client.get(f"/vouchers/batches/{batch_id}").get_data(as_text=True)
    assert html.count('data-state="unused" class="badge badge-info">Unused</span>') == 3
    assert html.count('data-sync="pending" class="badge badge-info">Pending</span>') == 3
    assert not re.search(r'class="badge ?"', html)  # no badge without a kind, i.e. without a background
    css = client.get("/static/css/app.css").get_data(as_text=True)
    assert re.search(r"\.badge-info \{ background: #[0-9a-f]{6}", css)
    assert re.search(r"\.badge \{ background: #[0-9a-f]{6}", css)


def test_router_command_and_circuit_badges_share_the_casing(app, client, auth, make_router):
    router = make_router(name="edge-1")
    auth.login_as("operator")
    html = client.get(f"/routers/{router.id}").get_data(as_text=True)
    badges = _badges(html)
    assert ("off", "Never contacted") in badges and ("ok", "Closed") in badges
