"""Bad-input harness: a small world of rows, a logged-in admin, and one call that posts a bad value and checks
the answer a user would see (status, message) and that nothing was written (every table's rows before and after)."""
from __future__ import annotations

import html
import re
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from isp.extensions import db as _db
from tests.conftest import TEST_PASSWORD, csrf_from, make_test_app

# Rows that change on any request by design (server-side session bookkeeping), never a partial write.
VOLATILE = {"user_sessions", "trusted_devices"}


def snapshot(app, skip: set[str] = frozenset()) -> dict:
    """Every row of every table of both binds, for a before/after comparison: the rows themselves on SQLite (the
    test world is small), one CHECKSUM TABLE per database on MariaDB (a checksum of every row, one round trip)."""
    out = {}
    with app.app_context():
        for bind, metadata in ((None, _db.metadata), ("radius", _db.metadatas["radius"])):
            engine = _db.engines[bind] if bind else _db.engine
            names = [n for n in metadata.tables if n not in VOLATILE and n not in skip]
            with engine.connect() as conn:
                if engine.dialect.name == "mysql":
                    quoted = ", ".join(engine.dialect.identifier_preparer.quote(metadata.tables[n].name) for n in names)
                    sums = {row[0].split(".")[-1]: row[1] for row in conn.exec_driver_sql(f"CHECKSUM TABLE {quoted}")}
                    out.update({n: [sums.get(metadata.tables[n].name)] for n in names})
                    continue
                for name in names:
                    rows = conn.execute(select(metadata.tables[name])).all()
                    out[name] = sorted(tuple(str(v) for v in row) for row in rows)
        _db.session.remove()
    return out


def changed(before: dict, after: dict) -> dict:
    """Tables whose rows differ, with what differs (row counts on SQLite, checksums on MariaDB)."""
    return {name: (len(before[name]), len(after.get(name, [])), before[name][:1], after.get(name, [])[:1])
            for name in before if before[name] != after.get(name)}


def text_of(response) -> str:
    """The response body as a user reads it: tags dropped, entities decoded, whitespace squeezed."""
    body = response.get_data(as_text=True)
    body = re.sub(r"<script.*?</script>", " ", body, flags=re.S)
    body = re.sub(r"<[^>]+>", " ", body)
    return re.sub(r"\s+", " ", html.unescape(body))


class Bad:
    """Post or get a bad request as a logged-in user and check status, message and that nothing was written."""

    def __init__(self, app, client, token_url: str = "/"):
        self.app = app
        self.client = client
        self.token_url = token_url

    def login(self, username: str, password: str = TEST_PASSWORD):
        page = self.client.get("/auth/login")
        token = csrf_from(page.get_data(as_text=True))
        response = self.client.post("/auth/login", data={"username": username, "password": password, "csrf_token": token})
        assert response.status_code == 302, text_of(response)[:500]

    def token(self) -> str:
        """The session's CSRF token (stable for the session: read once, from a page, then reused)."""
        if getattr(self, "_token", None) is None:
            self._token = csrf_from(self.client.get(self.token_url).get_data(as_text=True))
        return self._token

    def check(self, method: str, url: str, status: int | tuple, message: str | None = None, data=None, skip=frozenset(),
              csrf: bool = True, **kw):
        """Send the request; assert the status (never 5xx), the message on the page and no write to any table."""
        if method == "POST" and csrf:
            if isinstance(data, dict):
                data = {"csrf_token": self.token(), **data}
            else:
                kw.setdefault("headers", {})["X-CSRFToken"] = self.token()
        before = snapshot(self.app, set(skip))
        response = self.client.open(url, method=method, data=data, **kw)
        after = snapshot(self.app, set(skip))
        statuses = status if isinstance(status, tuple) else (status,)
        shown = text_of(response)
        assert response.status_code < 500, shown[:800]
        assert response.status_code in statuses, (response.status_code, shown[:800])
        if message is not None and response.status_code in (302, 303) and response.headers.get("Location"):
            shown = text_of(self.client.get(response.headers["Location"]))  # a button form flashes and redirects
        if message is not None:
            assert message.lower() in shown.lower(), f"{message!r} not in: {shown[:1500]}"
        assert changed(before, after) == {}, f"partial write: {changed(before, after)}"
        return response

    def post(self, url: str, data: dict, message: str | None, status: int | tuple = 422, **kw):
        return self.check("POST", url, status, message, data=data, **kw)

    def get(self, url: str, status: int | tuple = 200, message: str | None = None, **kw):
        return self.check("GET", url, status, message, **kw)


def _empty(app) -> None:
    """Empty every table and Redis, as the shared `app` fixture does after each test."""
    with app.app_context():
        _db.session.remove()
        with _db.engine.begin() as conn:
            conn.execute(_db.metadata.tables["invoices"].update().values(corrects_id=None))
            for table in reversed(_db.metadata.sorted_tables):
                conn.execute(table.delete())
        with _db.engines["radius"].begin() as conn:
            for table in _db.metadatas["radius"].sorted_tables:
                conn.execute(table.delete())
    app.config["REDIS_CLIENT"].flushdb()


@pytest.fixture(scope="module")
def module_app(_migrated):
    """One app per test module: every case asserts it wrote nothing, so the world it reads is shared by the module."""
    app = make_test_app(_migrated)
    _empty(app)
    yield app
    _empty(app)


def build_world(app) -> SimpleNamespace:
    """An admin (logged in), a reseller, two routers, a hotspot plan, two service plans, two customers, a service."""
    from isp.models import Role, User
    from isp.services import billing, customers, plans, routers, service_plans, subscriptions, users

    with app.app_context():
        admin = users.create_user("admin1", TEST_PASSWORD, Role.admin)
        reseller = users.create_user("seller1", TEST_PASSWORD, Role.reseller)
        made = []
        for name in ("core-1", "edge-2"):
            made.append(routers.create_router({
                "name": name, "addresses": "127.0.0.1", "api_port": 1, "username": "admin", "password": "sim-secret-pw",
                "mode": "api", "enabled": True, "max_sessions": 20}))
        _db.session.flush()
        router, other_router = made
        plan = plans.create_plan({"name": "Day pass", "price": "10.00", "reseller_price": "8.00", "validity": "1d",
                                  "time_quota": "", "data_quota": "", "rate_limit": "2M/4M", "shared_users": 1,
                                  "active": True, "router_ids": [router.id]})
        splan = service_plans.create_plan({
            "name": "Home 10", "kind": "pppoe", "price": "25.00", "period_unit": "month", "period_count": "1",
            "rate_limit": "5M/10M", "data_cap": "", "fup_rate_limit": "", "shared_users": "1", "address_pool": "",
            "grace_days": "", "active": True, "router_ids": [router.id]})
        static = service_plans.create_plan({
            "name": "Static 20", "kind": "static", "price": "40.00", "period_unit": "month", "period_count": "1",
            "rate_limit": "10M/20M", "data_cap": "", "fup_rate_limit": "", "shared_users": "1",
            "address_pool": "static-pool", "grace_days": "", "active": True, "router_ids": [router.id]})
        actor = _db.session.get(User, admin.id)
        customer = customers.create({"name": "Alice Wanjiru", "phone": "+254700000001", "email": "alice@example.com"}, actor)
        other = customers.create({"name": "Bob Otieno", "phone": "+254700000002"}, actor)
        _db.session.flush()
        sub = subscriptions.create(customer, {"plan_id": splan.id, "username": "alice", "password": "alicepass1",
                                              "auto_renew": True}, actor)
        _db.session.flush()
        billing.record_payment(customer, "100.00", "mobile", "QWE123XYZ", "", actor)
        _db.session.commit()
        world = SimpleNamespace(
            admin=SimpleNamespace(id=admin.id, username=admin.username),
            reseller=SimpleNamespace(id=reseller.id, username=reseller.username),
            router=SimpleNamespace(id=router.id, name=router.name),
            other_router=SimpleNamespace(id=other_router.id, name=other_router.name),
            plan=SimpleNamespace(id=plan.id, name=plan.name), splan=splan.id, static_plan=static.id,
            customer=customer.id, other_customer=other.id, sub=sub.id)
        _db.session.remove()
    world.bad = Bad(app, app.test_client())
    world.bad.login(world.admin.username)
    return world


@pytest.fixture(scope="module")
def world(module_app):
    """The module's shared world, an admin logged in (see build_world)."""
    return build_world(module_app)


@pytest.fixture
def fresh_world(app):
    """A world of its own for a case that needs more rows (torn down by the shared `app` fixture)."""
    return build_world(app)


LONG = "x" * 10_000
NUL = "Alice\x00Bob"
RTL = "Alice\u202eBob"
SCRIPT = "<script>alert(1)</script>"
