"""Every error under /api/ is an RFC 9457 problem: routing errors, validation, bad bodies, crashes. No HTML ever."""
from __future__ import annotations

from tests.api.conftest import assert_problem


def test_unknown_api_path_is_a_404_problem(api_as, client):
    assert_problem(client.get("/api/v1/nothing-here"), 404)
    assert_problem(api_as("admin", "read").get("/nothing-here"), 404)
    assert_problem(client.get("/api/v2/vouchers"), 404)


def test_unknown_id_is_a_404_problem(api_as):
    body = assert_problem(api_as("admin", "read").get("/vouchers/999999"), 404)
    assert body["type"].endswith("#problem-not-found")


def test_wrong_method_is_a_405_problem_with_allow(api_as):
    response = api_as("admin", "admin").client.delete("/api/v1/vouchers", headers={"Authorization": "Bearer x"})
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_validation_errors_name_their_fields(api_as, shop):
    api = api_as("admin", "vouchers")
    response = api.post("/batches", json={"count": 0, "prefix": "no spaces!", "surprise": 1}, key="k-422")
    body = assert_problem(response, 422)
    assert set(body["errors"]) == {"plan_id", "count", "prefix", "surprise"}
    assert all(isinstance(m, list) and m for m in body["errors"].values())


def test_query_validation_errors_are_422_problems(api_as):
    body = assert_problem(api_as("admin", "read").get("/vouchers?limit=0&state=lost&cursor=abc"), 422)
    assert set(body["errors"]) == {"limit", "state", "cursor"}


def test_service_refusal_is_a_422_naming_the_field(api_as, shop):
    api = api_as("admin", "vouchers")
    response = api.post("/batches", json={"plan_id": shop.plan.id, "count": 5000, "length": 4}, key="k-len")
    body = assert_problem(response, 422)
    assert list(body["errors"]) == ["length"] and "at least" in body["detail"]


def test_non_json_body_is_a_415_problem(api_as, shop):
    api = api_as("admin", "vouchers")
    response = api.post("/batches", data="plan_id=1&count=2", key="k-415",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_problem(response, 415)


def test_malformed_json_is_a_400_problem(api_as, shop):
    api = api_as("admin", "vouchers")
    response = api.post("/batches", data="{not json", key="k-400", headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 422)
    assert_problem(response, response.status_code)


def test_body_too_large_is_a_413_problem(app, api_as):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    api = api_as("admin", "vouchers")
    response = api.post("/batches", json={"note": "x" * 5000}, key="k-413")
    assert_problem(response, 413)


def test_a_crash_is_a_500_problem_without_details(app, api_as, monkeypatch):
    from isp.services import vouchers

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(vouchers, "list_query", boom)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = api_as("admin", "read").get("/vouchers")
    body = assert_problem(response, 500)
    assert "secret internals" not in response.get_data(as_text=True) and body["title"] == "Internal server error"


def test_the_web_keeps_its_own_error_pages(client, auth):
    auth.login_as("admin")
    response = client.get("/no-such-page")
    assert response.status_code == 404 and response.mimetype == "text/html"
