"""Shared fixtures: app, client, db, factories and a login helper per role.

Profile: SQLite with fakeredis by default; MariaDB and real Redis when
TEST_DATABASE_URL / TEST_REDIS_URL are set (`.ci/run` sets both).
"""
from __future__ import annotations

import os
import re
from types import SimpleNamespace

import pytest

from isp import create_app
from isp.extensions import db as _db
from isp.radius import binds
from tests.plugins.freeradius import freeradius  # noqa: F401 (a fixture, shared by every test directory)

TEST_PASSWORD = "correct-horse-battery"


def _redis_client():
    """A real Redis for CI, otherwise an in-memory fake."""
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        import redis

        return redis.Redis.from_url(url)
    import fakeredis

    return fakeredis.FakeRedis()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """The test database: TEST_DATABASE_URL, or a fresh SQLite file."""
    return os.environ.get("TEST_DATABASE_URL") or "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.db")


@pytest.fixture(scope="session")
def _migrated(database_url, tmp_path_factory):
    """Run the real migrations once per session, on the profile under test."""
    from flask_migrate import upgrade

    from isp.config import normalise_db_url

    url = normalise_db_url("TEST_DATABASE_URL", database_url)
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_BINDS": _binds(url),
                      "RADIUS_TWO_PHASE": bool(os.environ.get("TEST_RADIUS_TWO_PHASE"))})
    with app.app_context():
        _db.drop_all(bind_key=None)
        _db.drop_all(bind_key="radius")  # the stock FreeRADIUS tables, wherever the radius bind puts them
        with _db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        radius = binds.radius_engine(app)
        with radius.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version_radius")
        radius.dispose()
        upgrade()  # our chain, then the radius bind's (migrations/env.py)
    return url


def _binds(url: str) -> dict:
    """The radius bind of the test profile: TEST_RADIUS_DATABASE_URL beside a MySQL test database, else the test
    database itself (an SQLite app keeps its radius tables in its own file, as the app requires)."""
    from isp.config import normalise_db_url

    radius = os.environ.get("TEST_RADIUS_DATABASE_URL")
    if radius and not url.startswith("sqlite"):
        return {"radius": normalise_db_url("TEST_RADIUS_DATABASE_URL", radius)}
    return {"radius": url}


def make_test_app(url: str, **overrides):
    """An app bound to the test database and test Redis (never the developer's instance/)."""
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "SQLALCHEMY_BINDS": _binds(url),
        "REDIS_CLIENT": _redis_client(),
        "SESSION_COOKIE_SECURE": False,
        "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
        # Fast pipeline thresholds so retries and the breaker play out in milliseconds.
        "ROUTER_TIMEOUT": 1.0,
        "RETRY_BASE": 0.01,
        "RETRY_CAP": 0.05,
        "RETRY_MAX": 4,
        "BREAKER_THRESHOLD": 3,
        "BREAKER_COOLDOWN": 0.3,
        "POOL_ACQUIRE_TIMEOUT": 0.3,
        "REMEMBER_COOKIE_SECURE": False,
    }
    if os.environ.get("TEST_RADIUS_TWO_PHASE"):  # run any test directory with the radius bind on XA (MariaDB only)
        config["RADIUS_TWO_PHASE"] = True
    config.update(overrides)
    return create_app(config)


@pytest.fixture
def app(_migrated):
    """A fresh app per test; tables emptied and Redis flushed afterwards.

    No app context stays pushed during the test, so each request gets its own
    (as in production); use the `ctx` fixture to call services directly.
    """
    app = make_test_app(_migrated)
    app.config["REDIS_CLIENT"].flushdb()
    yield app
    with app.app_context():
        _db.session.remove()
        with _db.engine.begin() as conn:
            # Credit notes point at the invoices they correct (RESTRICT): unlink them before emptying the table.
            conn.execute(_db.metadata.tables["invoices"].update().values(corrects_id=None))
            for table in reversed(_db.metadata.sorted_tables):
                conn.execute(table.delete())
        with _db.engines["radius"].begin() as conn:  # our own engine too unless the radius bind is two-phase
            for table in _db.metadatas["radius"].sorted_tables:
                conn.execute(table.delete())
    app.config["REDIS_CLIENT"].flushdb()


@pytest.fixture
def ctx(app):
    """An app context for calling services in the test body."""
    with app.app_context():
        yield app
        _db.session.remove()


@pytest.fixture
def db(ctx):
    """The SQLAlchemy handle inside an app context."""
    return _db


@pytest.fixture
def client(app):
    """A test client."""
    return app.test_client()


@pytest.fixture
def make_user(app):
    """Factory: make_user(role='operator', username=None, password=TEST_PASSWORD) -> id, username, role."""
    from isp.models import Role
    from isp.services import users

    counter = {"n": 0}

    def factory(role: str = "operator", username: str | None = None, password: str = TEST_PASSWORD, **kw):
        counter["n"] += 1
        with app.app_context():
            user = users.create_user(username or f"{role}{counter['n']}", password, Role(role), **kw)
            _db.session.commit()
            return SimpleNamespace(id=user.id, username=user.username, role=role)

    return factory


def csrf_from(html: str) -> str:
    """The CSRF token embedded in a page."""
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'"X-CSRFToken": "([^"]+)"', html
    )
    assert match, "page has no CSRF token"
    return match.group(1)


class AuthActions:
    """Log in and out through the real form, CSRF included."""

    def __init__(self, client, make_user):
        self.client = client
        self.make_user = make_user

    def login(self, username: str, password: str = TEST_PASSWORD, next_url: str | None = None, **headers):
        """Post the login form; returns the response."""
        page = self.client.get("/auth/login")
        token = csrf_from(page.get_data(as_text=True))
        url = "/auth/login" + (f"?next={next_url}" if next_url is not None else "")
        return self.client.post(url, data={"username": username, "password": password, "csrf_token": token}, headers=headers)

    def login_as(self, role: str):
        """Create a user with the role and log in; returns the user."""
        user = self.make_user(role)
        response = self.login(user.username)
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    def token(self) -> str:
        """A CSRF token for the current session."""
        return csrf_from(self.client.get("/").get_data(as_text=True))

    def logout(self):
        """Post the logout form."""
        return self.client.post("/auth/logout", data={"csrf_token": self.token()})


@pytest.fixture
def auth(client, make_user):
    """Login helper bound to the test client."""
    return AuthActions(client, make_user)


# -- router pipeline fixtures -------------------------------------------------

SIM_PASSWORD = "sim-secret-pw"


@pytest.fixture(scope="session")
def fleet():
    """Three simulated routers on free loopback ports, shared by the session (reset per test)."""
    from routeros_sim import Fleet, RouterConfig

    configs = [RouterConfig(name=f"t{i}", password=SIM_PASSWORD, tls_port=None, seed=i) for i in range(1, 4)]
    with Fleet(configs, speed=1.0) as running:
        yield running


@pytest.fixture
def sim(fleet):
    """The fleet with every fault switch cleared before and after the test."""
    from routeros_sim import FaultConfig

    def clear():
        for router in fleet.routers:
            router.faults.update(**{k: v for k, v in FaultConfig().as_dict().items()})

    clear()
    yield fleet
    clear()


@pytest.fixture
def make_router(app):
    """Factory: make_router(sim_router, **fields) -> id, name (password encrypted by the service)."""
    from isp.services import routers

    counter = {"n": 0}

    def factory(sim_router=None, **fields):
        counter["n"] += 1
        data = {
            "name": f"router-{counter['n']}", "addresses": "127.0.0.1", "api_port": sim_router.port if sim_router else 1,
            "username": "admin", "password": SIM_PASSWORD, "mode": "api", "enabled": True, "max_sessions": 20,
        }
        data.update(fields)
        with app.app_context():
            router = routers.create_router(data)
            _db.session.commit()
            return SimpleNamespace(id=router.id, name=router.name)

    return factory


def run_worker(app, burst: bool = True, promote_scheduled: bool = True, rounds: int = 20):
    """Drain the queues in-process with the real worker class; scheduled retries are promoted at once."""
    from rq import Queue
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    from isp.dispatch import QUEUES
    from isp.extensions import redis_store
    from isp.jobs.worker import IspWorker

    with app.app_context():
        connection = redis_store.client
        IspWorker.app = app
        queues = [Queue(name, connection=connection) for name in QUEUES]
        for _ in range(rounds):
            IspWorker(queues, connection=connection).work(burst=True)
            if not promote_scheduled:
                break
            moved = 0
            for q in queues:
                registry = ScheduledJobRegistry(queue=q)
                for job_id in registry.get_job_ids():
                    job = Job.fetch(job_id, connection=connection)
                    registry.remove(job)
                    q.enqueue_job(job)
                    moved += 1
            if not moved:
                break


# -- voucher fixtures ---------------------------------------------------------


@pytest.fixture
def make_plan(app):
    """Factory: make_plan(router_ids=[...], **fields) -> id, name, profile."""
    from isp.services import plans

    counter = {"n": 0}

    def factory(router_ids=(), **fields):
        counter["n"] += 1
        data = {"name": f"Plan {counter['n']}", "price": "10.00", "reseller_price": "8.00", "validity": "1d",
                "time_quota": "", "data_quota": "", "rate_limit": "2M/4M", "shared_users": 1, "active": True,
                "router_ids": list(router_ids)}
        data.update(fields)
        with app.app_context():
            plan = plans.create_plan(data)
            _db.session.commit()
            return SimpleNamespace(id=plan.id, name=plan.name, profile=plan.profile_name)

    return factory


@pytest.fixture
def generate(app):
    """generate(user_id, plan_id, count, **kw) -> batch id (committed), as the web view does it."""
    from isp.models import User
    from isp.services import vouchers

    def factory(user_id, plan_id, count, **kw):
        with app.app_context():
            batch = vouchers.generate(_db.session.get(User, user_id), plan_id, count, **kw)
            _db.session.commit()
            return batch.id

    return factory


@pytest.fixture
def fund(app):
    """fund(user_id, amount): top up a reseller's ledger account."""
    from isp.models import EntryKind, User
    from isp.services import ledger

    def factory(user_id, amount):
        with app.app_context():
            ledger.post(ledger.account_for(_db.session.get(User, user_id)), EntryKind.topup, amount, "test top-up")
            _db.session.commit()

    return factory


@pytest.fixture
def allow(app):
    """allow(user_id, plan_id): let a reseller sell a plan."""
    from isp.models import reseller_plans

    def factory(user_id, plan_id):
        with app.app_context():
            _db.session.execute(reseller_plans.insert().values(user_id=user_id, plan_id=plan_id))
            _db.session.commit()

    return factory
