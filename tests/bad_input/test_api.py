"""Bad requests to /api/v1: a problem+json 4xx that says what is wrong, and nothing written."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from tests.bad_input.conftest import changed, snapshot

PROBLEM = "application/problem+json"
# Rows an accepted token touches on every request (last used at, from which IP): bookkeeping, not a write.
TOUCHED = {"api_tokens"}


@pytest.fixture(scope="module")
def tokens(world):
    """An admin token with every scope and a read-only one, made through the real service."""
    from isp.extensions import db
    from isp.models import User
    from isp.services import api_tokens

    with world.bad.app.app_context():
        admin = db.session.get(User, world.admin.id)
        _, full = api_tokens.create(admin, "all", {"read", "vouchers", "customers", "routers", "admin"}, None)
        _, read = api_tokens.create(admin, "read", {"read"}, None)
        db.session.commit()
    return SimpleNamespace(full=full, read=read)


def call(world, method: str, path: str, status: int | tuple, message: str | None, token: str | None = "",
         body=None, raw: bytes | None = None, headers: dict | None = None):
    """Send the request; assert a problem+json with this status (never 5xx), the message, and no write."""
    app = world.bad.app
    sent = dict(headers or {})
    if token is not None:
        sent.setdefault("Authorization", f"Bearer {token}")
    kw = {}
    if raw is not None:
        kw["data"] = raw
        sent.setdefault("Content-Type", "application/json")
    elif body is not None:
        kw["data"] = json.dumps(body)
        sent.setdefault("Content-Type", "application/json")
    client = app.test_client()
    before = snapshot(app, TOUCHED)
    response = client.open("/api/v1" + path, method=method, headers=sent, **kw)
    after = snapshot(app, TOUCHED)
    text = response.get_data(as_text=True)
    assert response.status_code < 500, text[:800]
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, (response.status_code, text[:800])
    assert response.mimetype == PROBLEM, (response.mimetype, text[:300])
    problem = response.get_json(force=True)
    assert problem["status"] == response.status_code and problem.get("detail")
    if message is not None:
        assert message.lower() in text.lower(), text[:1500]
    assert changed(before, after) == {}, f"partial write: {changed(before, after)}"
    return problem


def _fill(world, tokens, value):
    """Put the world's ids and tokens into a case's strings."""
    if isinstance(value, str):
        for name, real in {"{customer}": world.customer, "{plan}": world.plan.id, "{splan}": world.splan,
                           "{router}": world.router.id, "{other_router}": world.other_router.id,
                           "{read}": tokens.read, "{full}": tokens.full}.items():
            value = value.replace(name, str(real))
        return value
    if isinstance(value, dict):
        return {k: _fill(world, tokens, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(world, tokens, v) for v in value]
    return value


AUTH = [
    ("no header", None, {}, 401),
    ("empty bearer", None, {"Authorization": "Bearer "}, 401),
    ("garbage token", "garbage", {}, 401),
    ("basic auth", None, {"Authorization": "Basic YWRtaW4xOnBhc3N3b3Jk"}, 401),
    ("token 10k chars", "isp_" + "x" * 10_000, {}, 401),
    ("token with control chars", "isp_abc\x01def", {}, 401),
    ("token twice", None, {"Authorization": "Bearer {full} {full}"}, 401),
    ("lower-case scheme and junk", None, {"Authorization": "bearer"}, 401),
]


@pytest.mark.parametrize("token,headers,status", [c[1:] for c in AUTH], ids=[c[0] for c in AUTH])
def test_auth(world, tokens, token, headers, status):
    """A missing or invalid token is a 401 problem."""
    call(world, "GET", "/customers", status, None, token=token, headers=_fill(world, tokens, headers))


def test_read_token_cannot_write(world, tokens):
    """A token without the scope is refused with a 403 and writes nothing."""
    call(world, "POST", "/customers", 403, None, token=tokens.read, body={"name": "Eve"})


BODIES = [
    ("invalid json", "POST", "/customers", None, b"{name: 'Eve'", 400, None),
    ("truncated json", "POST", "/customers", None, b'{"name": "Eve"', 400, None),
    ("json array", "POST", "/customers", ["Eve"], None, 422, None),
    ("json string", "POST", "/customers", "Eve", None, 422, None),
    ("json null", "POST", "/customers", None, b"null", (400, 422), None),
    ("empty body", "POST", "/customers", None, b"", (400, 422), None),
    ("unknown field", "POST", "/customers", {"name": "Eve", "is_admin": True}, None, 422, "is_admin"),
    ("name a number", "POST", "/customers", {"name": 123}, None, 422, "name"),
    ("name missing", "POST", "/customers", {"phone": "+254700000009"}, None, 422, "name"),
    ("name 10k", "POST", "/customers", {"name": "x" * 10_000}, None, 422, "name"),
    ("tags not a list", "POST", "/customers", {"name": "Eve", "tags": "vip"}, None, 422, "tags"),
    ("reseller id text", "POST", "/customers", {"name": "Eve", "reseller_id": "abc"}, None, 422, "reseller_id"),
    ("reseller id huge", "POST", "/customers", {"name": "Eve", "reseller_id": 10**30}, None, 422, "reseller_id"),
    ("phone letters", "POST", "/customers", {"name": "Eve", "phone": "call me"}, None, 422, "is not a phone number"),
    ("email script", "POST", "/customers", {"name": "Eve", "email": "<script>@x"}, None, 422, "is not an email address"),
    ("name nul", "POST", "/customers", {"name": "Eve\u0000"}, None, 422, "control characters"),
    pytest.param("POST", "/customers", None, b'{"name": ' + b"[" * 5000 + b"]" * 5000 + b"}", (400, 422), "nested",
                 id="deep nesting"),
    ("patch status bogus", "PATCH", "/customers/{customer}", {"status": "deleted"}, None, 422, "status"),
    ("patch unknown field", "PATCH", "/customers/{customer}", {"balance": "1000000"}, None, 422, "balance"),
    ("patch email bad", "PATCH", "/customers/{customer}", {"email": "nope"}, None, 422, "is not an email address"),
]


@pytest.mark.parametrize("method,path,body,raw,status,message",
                         [c if isinstance(c, type(pytest.param())) else pytest.param(*c[1:], id=c[0]) for c in BODIES])
def test_bodies(world, tokens, method, path, body, raw, status, message):
    """Bad JSON, wrong types, unknown fields and values the service refuses: a 4xx problem naming the field."""
    call(world, method, _fill(world, tokens, path), status, message, token=tokens.full, body=body, raw=raw)


def test_wrong_content_type(world, tokens):
    """A form-encoded body on a JSON endpoint is refused (415 or a 4xx naming the body), nothing created."""
    call(world, "POST", "/customers", (400, 415, 422), None, token=tokens.full,
         raw=b"name=Eve", headers={"Content-Type": "application/x-www-form-urlencoded"})


def test_oversize_body(world, tokens):
    """A body over the request limit is a 413 problem."""
    call(world, "POST", "/customers", 413, None, token=tokens.full,
         raw=b'{"name": "' + b"x" * (9 * 1024 * 1024) + b'"}')


BATCHES = [
    ("count 0", {"count": 0}, "count"),
    ("count 10001", {"count": 10001}, "count"),
    ("count negative", {"count": -1}, "count"),
    ("count string", {"count": "ten"}, "count"),
    ("count float", {"count": 1.5}, "count"),
    ("count bool", {"count": True}, "count"),
    ("count huge", {"count": 10**40}, "count"),
    ("length 99", {"length": 99}, "length"),
    ("mode bad", {"mode": "qr"}, "mode"),
    ("prefix symbols", {"prefix": "A-B!"}, "Prefix"),
    ("plan unknown", {"plan_id": 999999}, "plan"),
    ("router not the plan's", {"router_id": "{other_router}"}, "router"),
    ("note 10k", {"note": "x" * 10_000}, "note"),
]


@pytest.mark.parametrize("fields,message",
                         [c if isinstance(c, type(pytest.param())) else pytest.param(*c[1:], id=c[0]) for c in BATCHES])
def test_batch_create(world, tokens, fields, message):
    """A refused batch creates no batch, voucher or router command (and no idempotency record)."""
    body = _fill(world, tokens, {"plan_id": "{plan}", "count": 5, **fields})
    body = {k: int(v) if isinstance(v, str) and v.isdigit() else v for k, v in body.items()}
    call(world, "POST", "/batches", 422, message, token=tokens.full, body=body,
         headers={"Idempotency-Key": f"bad-{abs(hash(json.dumps(body, sort_keys=True)))}"})


KEYS = [
    ("missing key", None, (400, 428)),
    ("empty key", "", (400, 428)),
    ("key 10k chars", "k" * 10_000, (400, 422)),
    ("key with control chars", "abc\x01def", (400, 422)),
    ("key non-ascii", "ключ-1", (400, 422)),
]


@pytest.mark.parametrize("key,status", [c[1:] for c in KEYS], ids=[c[0] for c in KEYS])
def test_idempotency_key(world, tokens, key, status):
    """A POST that creates vouchers needs a sane Idempotency-Key; a bad one creates nothing."""
    headers = {} if key is None else {"Idempotency-Key": key}
    call(world, "POST", "/batches", status, "Idempotency-Key", token=tokens.full,
         body={"plan_id": world.plan.id, "count": 5}, headers=headers)


PAYMENTS = [
    ("amount 0", {"amount": "0"}, "zero"),
    ("amount negative", {"amount": "-5"}, "negative"),
    ("amount NaN", {"amount": "NaN"}, "amount"),
    ("amount 1e309", {"amount": "1e309"}, "amount"),
    ("amount 3 decimals", {"amount": "10.001"}, "two decimals"),
    ("amount huge", {"amount": "99999999999999"}, "too large"),
    ("amount a float with binary noise", {"amount": 0.30000000000000004}, "two decimals"),
    ("amount 10k", {"amount": "1" * 10_000}, "amount"),
    ("method bitcoin", {"method": "bitcoin"}, "method"),
    ("customer unknown", {"customer_id": 999999}, None),
    ("duplicate reference", {"method": "mobile", "reference": "QWE123XYZ"}, "already recorded"),
    ("mobile without reference", {"method": "mobile", "reference": ""}, "reference"),
]


@pytest.mark.parametrize("fields,message", [c[1:] for c in PAYMENTS], ids=[c[0] for c in PAYMENTS])
def test_payment_create(world, tokens, fields, message):
    """A refused payment posts no receipt and no ledger entry."""
    body = {"customer_id": world.customer, "amount": "50", "method": "cash", **fields}
    call(world, "POST", "/payments", (404, 409, 422), message, token=tokens.full, body=body,
         headers={"Idempotency-Key": f"pay-{abs(hash(json.dumps(body, sort_keys=True)))}"})


SUBSCRIPTIONS = [
    ("username taken", {"username": "alice"}, "already used"),
    ("username spaces", {"username": "bad name"}, "is not a valid username"),
    ("static ip bad", {"plan_id": "{static}", "static_ip": "10.0.0.999"}, "is not an IPv4 address"),
    ("mac bad", {"caller_id": "zz:zz"}, "is not a MAC address"),
    ("password short", {"password": "abc"}, "6 to 64"),
    ("grace 1000", {"grace_days": 1000}, "grace_days"),
    ("customer text", {"customer_id": "abc"}, "customer_id"),
]


@pytest.mark.parametrize("fields,message", [c[1:] for c in SUBSCRIPTIONS], ids=[c[0] for c in SUBSCRIPTIONS])
def test_subscription_create(world, tokens, fields, message):
    """A refused service stores nothing and queues nothing for the router."""
    body = {"customer_id": world.other_customer, "plan_id": world.splan, "username": "eve-home", **fields}
    if body.get("plan_id") == "{static}":
        body["plan_id"] = world.static_plan
    call(world, "POST", "/subscriptions", (404, 409, 422), message, token=tokens.full, body=body)


QUERIES = [
    ("limit 0", "/vouchers?limit=0", "limit"),
    ("limit 201", "/vouchers?limit=201", "limit"),
    ("limit negative", "/customers?limit=-1", "limit"),
    ("limit text", "/customers?limit=abc", "limit"),
    ("limit huge", "/payments?limit=99999999999999999999999", "limit"),
    ("cursor garbage", "/vouchers?cursor=garbage", "cursor"),
    ("cursor base64 junk", "/customers?cursor=eyJpZCI6ICJ4In0", "cursor"),
    ("cursor 10k", "/customers?cursor=" + "A" * 10_000, "cursor"),
    ("state bogus", "/vouchers?state=exploded", "state"),
    ("status bogus", "/customers?status=deleted", "status"),
    ("plan id text", "/customers?plan_id=abc", "plan_id"),
    ("date reversed or junk", "/payments?date_from=yesterday", "date_from"),
    ("method bogus", "/payments?method=gold", "method"),
    ("alerts severity bogus", "/alerts?severity=apocalyptic", "severity"),
]


@pytest.mark.parametrize("path,message", [c[1:] for c in QUERIES], ids=[c[0] for c in QUERIES])
def test_queries(world, tokens, path, message):
    """Bad paging and filter values are a 4xx problem naming the parameter."""
    call(world, "GET", path, (400, 422), message, token=tokens.full)


PATHS = [("GET", "/customers/999999", 404), ("GET", "/customers/99999999999999999999999", 404),
         ("GET", "/vouchers/0", 404), ("GET", "/batches/-1", 404), ("GET", "/routers/abc", 404),
         ("POST", "/vouchers/999999/disable", 404), ("PUT", "/customers", 405), ("DELETE", "/customers/{customer}", 405),
         ("GET", "/nosuch", 404)]


@pytest.mark.parametrize("method,path,status", PATHS, ids=[f"{m} {p}" for m, p, _ in PATHS])
def test_paths_and_methods(world, tokens, method, path, status):
    """Unknown ids and unsupported methods are problems too, not HTML pages."""
    call(world, method, _fill(world, tokens, path), status, None, token=tokens.full)
