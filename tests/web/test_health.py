"""Liveness and readiness, with the stores up and down."""
from __future__ import annotations

import redis

from tests.conftest import make_test_app


def test_live_is_ok(client):
    response = client.get("/health/live")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_ready_when_db_and_redis_answer(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json["status"] == "ok" and response.json["down"] == []


def test_ready_is_503_naming_redis_when_redis_is_down(app, _migrated):
    down = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5, socket_timeout=0.5)
    broken = make_test_app(_migrated, REDIS_CLIENT=down)
    response = broken.test_client().get("/health/ready")
    assert response.status_code == 503
    assert response.json["down"] == ["redis"]
    assert response.json["checks"]["database"] == "ok"
    assert broken.test_client().get("/health/live").status_code == 200


def test_ready_is_503_naming_database_when_db_is_down(app, tmp_path):
    broken = make_test_app(f"sqlite:///{tmp_path}/missing/dir/x.db")
    response = broken.test_client().get("/health/ready")
    assert response.status_code == 503
    assert response.json["down"] == ["database"]


def test_login_still_works_when_redis_is_down(app, _migrated, make_user):
    """The throttle fails open (and logs) rather than locking every operator out."""
    from tests.conftest import AuthActions

    user = make_user("operator")
    down = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    broken = make_test_app(_migrated, REDIS_CLIENT=down)
    assert AuthActions(broken.test_client(), make_user).login(user.username).status_code == 302
