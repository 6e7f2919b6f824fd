"""The role matrix over every route: each declares its roles, and they are enforced."""
from __future__ import annotations

import pytest

from isp import create_app
from isp.web.security import ALL_ROLES, declared_access

# Built once at collection time; create_app does no I/O, so this is cheap and safe.
_APP = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
RULES = sorted(
    # API views authenticate by Bearer token, never by the session: tests/api/test_auth.py covers every one of them.
    (rule for rule in _APP.url_map.iter_rules()
     if rule.endpoint != "static" and not getattr(_APP.view_functions[rule.endpoint], "_api_token", False)),
    key=lambda r: (r.rule, sorted(r.methods)),
)


def _method(rule) -> str:
    return "GET" if "GET" in rule.methods else "POST"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{_method(r)} {r.rule}")
def test_every_route_declares_access(rule):
    view = _APP.view_functions[rule.endpoint]
    access = declared_access(view)
    assert access is not None, f"{rule.endpoint} has neither @role_required(...) nor @public"
    assert set(access) <= set(ALL_ROLES) | {"public"}


def _samples(app, make_user, make_router) -> dict[str, int]:
    """Real objects for every URL converter: an account, a router, and a dead connection test of that router."""
    from isp.extensions import db
    from isp.models import CommandState, Router, User
    from isp.services import branding, outbox, plans, vouchers

    router = make_router()
    admin = make_user("admin")
    with app.app_context():
        command = outbox.queue_command(db.session.get(Router, router.id), "router.test", "test:matrix", {}, enqueue=False)
        command.state = CommandState.dead
        plan = plans.create_plan({"name": "Matrix", "price": "1", "reseller_price": "1", "validity": "1h", "rate_limit": "",
                                  "shared_users": 1, "router_ids": [router.id]})
        batch = vouchers.generate(db.session.get(User, admin.id), plan.id, 2)
        settings = branding.get()
        settings.logo, settings.logo_mime = b"\x89PNG\r\n\x1a\n", "image/png"  # /settings/logo has one to serve
        db.session.commit()
        samples = {"command_id": command.id, "plan_id": plan.id, "batch_id": batch.id,
                   "voucher_id": vouchers.list_query(db.session.get(User, admin.id), {}).limit(1).subquery().c.id}
        samples["voucher_id"] = db.session.scalar(db.select(samples["voucher_id"]))
        samples.update(_subscriber_samples(db.session.get(User, admin.id), router.id))
        samples.update(_alert_samples(router.id))
        from isp.services import api_tokens
        samples["token_id"] = api_tokens.create(db.session.get(User, admin.id), "matrix", {"read"}, None)[0].id
        samples.update(_login_security_samples(db.session.get(User, admin.id)))
        db.session.commit()
    # A reseller: the resellers pages need one, and the users pages accept any account.
    return {**samples, "user_id": make_user("reseller").id, "router_id": router.id}


def _login_security_samples(admin) -> dict[str, int]:
    """A server-side session and a remembered device of the sample admin (someone else's for every logged-in role)."""
    from isp.extensions import db
    from isp.models import TrustedDevice
    from isp.services import twofactor, user_sessions

    session_row, _ = user_sessions.start(admin, "127.0.0.1", "matrix", False, 3600)
    admin.totp_enabled_at = session_row.created_at  # remember_device is for accounts with a second factor
    twofactor.remember_device(admin, "127.0.0.1", "matrix", 30)
    device_id = db.session.scalar(db.select(TrustedDevice.id).where(TrustedDevice.user_id == admin.id))
    return {"session_id": session_row.id, "device_id": device_id}


def _alert_samples(router_id: int) -> dict[str, int]:
    """An alert rule, an open alert of it on the router, and a maintenance window of the router."""
    from datetime import timedelta

    from isp.extensions import db
    from isp.models import Alert, AlertKind, AlertRule, AlertState, MaintenanceWindow
    from isp.models.base import utcnow

    rule = AlertRule(name="Matrix rule", kind=AlertKind.metric, metric="cpu", warning=70.0)
    db.session.add(rule)
    db.session.flush()
    alert = Alert(rule_id=rule.id, router_id=router_id, state=AlertState.open, open_key="matrix", opened_at=utcnow())
    window = MaintenanceWindow(router_id=router_id, starts_at=utcnow(), ends_at=utcnow() + timedelta(hours=1),
                               reason="matrix")
    db.session.add_all([alert, window])
    db.session.commit()
    return {"rule_id": rule.id, "alert_id": alert.id, "window_id": window.id}


def _subscriber_samples(admin, router_id: int) -> dict[str, int]:
    """A staff-owned customer with a paid PPPoE service: its plan, service, invoice and payment."""
    from isp.extensions import db
    from isp.models import Invoice
    from isp.services import billing, customers, service_plans, subscriptions

    plan = service_plans.create_plan({"name": "Matrix home", "kind": "pppoe", "price": "10.00", "period_unit": "month",
                                      "period_count": "1", "rate_limit": "5M/10M", "data_cap": "", "fup_rate_limit": "",
                                      "shared_users": "1", "address_pool": "", "grace_days": "", "active": True,
                                      "router_ids": [router_id]})
    customer = customers.create({"name": "Matrix customer", "phone": "+254700000001"}, admin)
    sub = subscriptions.create(customer, {"plan_id": plan.id, "username": "matrix-user", "password": "", "auto_renew": True},
                               admin)
    payment = billing.record_payment(customer, "10.00", "cash", None, "", admin)
    db.session.commit()
    invoice_id = db.session.scalar(db.select(Invoice.id).where(Invoice.customer_id == customer.id))
    return {"service_plan_id": plan.id, "customer_id": customer.id, "subscription_id": sub.id,
            "invoice_id": invoice_id, "payment_id": payment.id}


# Sample objects owned by staff: a reseller let in by role is scoped out of them (404).
STAFF_OWNED = ("<int:batch_id>", "<int:voucher_id>", "<int:customer_id>", "<int:subscription_id>", "<int:invoice_id>",
               "<int:payment_id>")


# Personal objects of the sample admin: anyone but an admin is let in by role and then scoped out (404).
OWNER_ONLY = ("<int:token_id>",)


# Routes a reseller reaches only when allowed to sell services.
SELLERS_ONLY = {"customers.create"}


def _url(rule, samples: dict[str, int]) -> str:
    url = rule.rule
    for name, value in samples.items():
        url = url.replace(f"<int:{name}>", str(value))
    assert "<" not in url, f"no sample object for a converter in {rule.rule}: extend _samples()"
    return url


def _expected_access(view) -> tuple[str, ...]:
    """Roles a view really admits: public views guarded by token_or_staff admit staff (or a bearer token) only."""
    return getattr(view, "_token_roles", None) or declared_access(view)


CASES = [(rule, role) for rule in RULES for role in ("anonymous",) + ALL_ROLES]


@pytest.mark.parametrize("rule,role", CASES, ids=lambda v: v if isinstance(v, str) else f"{_method(v)} {v.rule}")
def test_role_matrix(app, client, auth, make_user, make_router, rule, role):
    view = _APP.view_functions[rule.endpoint]
    allowed = _expected_access(view)
    samples = _samples(app, make_user, make_router)
    if role != "anonymous":
        auth.login_as(role)
    method = _method(rule)
    headers = {"HX-Request": "true"}
    if method == "POST":
        headers["X-CSRFToken"] = auth.token() if role != "anonymous" else "none"
    response = client.open(_url(rule, samples), method=method, headers=headers)
    if hasattr(view, "_token_roles") and role == "anonymous":
        assert response.status_code == 401  # no login and no METRICS_TOKEN bearer
    elif "public" in allowed:
        assert response.status_code not in (401, 403) and "HX-Redirect" not in response.headers
    elif role == "anonymous":
        if method == "POST":  # CSRF is checked before login; either way nothing happens
            assert response.status_code in (204, 400)
        else:
            assert response.status_code == 204 and response.headers["HX-Redirect"].startswith("/auth/login")
    elif role in allowed and role == "reseller" and rule.endpoint in SELLERS_ONLY:
        # Let in by role, refused by permission: the sample reseller may not sign up customers (can_sell_services).
        assert response.status_code == 403
    elif role in allowed and role != "admin" and any(part in rule.rule for part in OWNER_ONLY):
        assert response.status_code == 404
    elif role in allowed and role == "reseller" and any(part in rule.rule for part in STAFF_OWNED):
        # The sample objects belong to staff: a reseller is let in by role and then scoped out (404).
        assert response.status_code == 404
    elif role in allowed:
        assert response.status_code not in (401, 403, 404), response.get_data(as_text=True)[:300]
        assert response.status_code < 500
        assert "HX-Redirect" not in response.headers
    else:
        assert response.status_code == 403


def test_forbidden_page_redirects_with_message_for_normal_navigation(client, auth):
    auth.login_as("reseller")
    response = client.get("/settings/users/")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Your role does not allow that." in client.get("/").get_data(as_text=True)


def test_navigation_shows_only_what_the_role_may_use(client, auth):
    auth.login_as("reseller")
    page = client.get("/").get_data(as_text=True)
    assert "Vouchers" in page and "Customers" in page
    assert "Settings" not in page and "Routers" not in page and "Monitoring" not in page


def test_admin_navigation_includes_settings(client, auth):
    auth.login_as("admin")
    page = client.get("/").get_data(as_text=True)
    assert 'href="/settings/users/"' in page and "Routers" in page


def test_undeclared_route_is_refused(app, client, auth):
    """A route added without a role answers 403 instead of leaking."""
    @app.route("/leaky")
    def leaky():
        return "secret"

    auth.login_as("admin")
    response = client.get("/leaky")
    assert response.status_code == 403
    assert b"secret" not in response.data
