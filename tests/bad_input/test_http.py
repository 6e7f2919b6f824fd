"""Bad requests at the HTTP level: query strings, path ids, methods, missing CSRF and oversize bodies."""
from __future__ import annotations

import pytest

QUERIES = {
    "page negative": "page=-1",
    "page text": "page=abc",
    "page huge": "page=99999999999999999999999",
    "per_page huge": "per_page=100000000&page=1",
    "sort injection": "sort=id;DROP TABLE users--&order=desc'",
    "unknown filters": "state=exploded&kind=nuclear&plan_id=abc&router_id=-5&reseller_id=1e9&q=%00%27%22",
    "q 10k": "q=" + "x" * 10_000,
    "dates reversed": "from=2030-01-01&to=2001-01-01&since=notadate&until=2999-99-99",
    "repeated params": "page=1&page=2&page=x&state=a&state=b",
}
# Every bad query on the two busiest lists; the ones most likely to reach SQL on the others.
_EVERY = ("/vouchers/", "/customers/")
_SOME = ("page text", "sort injection", "unknown filters")
_OTHERS = ("/customers/services", "/billing/", "/alerts/", "/audit/", "/reports/")
QUERY_CASES = [(u, QUERIES[n]) for u in _EVERY for n in QUERIES] + [(u, QUERIES[n]) for u in _OTHERS for n in _SOME]
QUERY_IDS = [f"{u} {n}" for u in _EVERY for n in QUERIES] + [f"{u} {n}" for u in _OTHERS for n in _SOME]


@pytest.mark.parametrize("url,qs", QUERY_CASES, ids=QUERY_IDS)
def test_query_strings(world, url, qs):
    """A bad query string is ignored or refused (200 with the list, or a 400), never a 500, never a write."""
    response = world.bad.get(f"{url}?{qs}", status=(200, 400, 422))
    if response.status_code != 200:  # refused: the page says what is wrong with the range
        assert "must be on or before" in response.get_data(as_text=True) or "Bad request" in response.get_data(as_text=True)


@pytest.mark.parametrize("url", ["/routers/{router}/log?page=-3&topic=%00&q=" + "y" * 3000,
                                 "/routers/{router}/graph.json?start=99999999999999999999&end=-1",
                                 "/routers/{router}/graph.json?start=abc&step=0",
                                 "/sessions/failures?page=abc&since=x",
                                 "/customers/{customer}/timeline?page=-1&before=abc",
                                 "/customers/{customer}/statement?page=99999999999999999999",
                                 "/vouchers/export.csv?state=bogus&batch_id=abc"],
                         ids=["router log", "graph huge start", "graph text start", "failures", "timeline", "statement",
                              "export"])
def test_query_strings_detail(world, url):
    """Detail pages and fragments (as htmx asks for them) with bad query values answer without a 500."""
    world.bad.get(url.replace("{router}", str(world.router.id)).replace("{customer}", str(world.customer)),
                  status=(200, 400), headers={"HX-Request": "true"})


PATHS = ["/customers/{}", "/customers/{}/edit", "/vouchers/{}", "/vouchers/batches/{}", "/routers/{}",
         "/routers/{}/edit", "/plans/{}/edit", "/billing/invoices/{}", "/billing/payments/{}/receipt", "/alerts/{}",
         "/settings/users/{}", "/customers/services/{}/edit", "/customers/plans/{}/edit", "/resellers/{}",
         "/billing/customers/{}/payments/new"]
IDS = {"missing": "999999", "negative": "-1", "huge": "99999999999999999999999999", "zero": "0", "text": "abc"}


PATH_CASES = [(p, "huge") for p in PATHS] + [(p, i) for p in PATHS[:3] for i in ("missing", "negative", "zero", "text")]


@pytest.mark.parametrize("path,ident", PATH_CASES, ids=[f"{p} {i}" for p, i in PATH_CASES])
def test_path_ids(world, path, ident):
    """An id that does not exist, is negative, zero, text or beyond any integer column is a plain 404."""
    world.bad.get(path.format(IDS[ident]), status=404, message="There is nothing here")


POST_ONLY = ["/auth/logout", "/vouchers/bulk", "/customers/{customer}/notes", "/routers/{router}/delete",
             "/imports/confirm", "/settings/billing", "/monitoring/reset-pool", "/customers/services/{sub}/state",
             "/notifications/settings/channel", "/routers/{router}/check"]


@pytest.mark.parametrize("url", POST_ONLY)
def test_get_on_post_route(world, url):
    """GET on a POST-only route is a 405 with a page that says so."""
    url = url.replace("{customer}", str(world.customer)).replace("{router}", str(world.router.id)).replace(
        "{sub}", str(world.sub))
    world.bad.get(url, status=405, message="That action is not available this way")


CSRF = [("/customers/new", {"name": "Eve", "phone": "+254700000009"}),
        ("/routers/{router}/delete", {"confirm": "y", "force": "y"}),
        ("/settings/users/new", {"username": "eve", "role": "admin", "password": "a-long-pass-1",
                                 "confirm": "a-long-pass-1"}),
        ("/vouchers/batches/new", {"plan_id": "{plan}", "count": "5", "mode": "code", "length": "8"}),
        ("/billing/customers/{customer}/payments/new", {"amount": "50", "method": "cash"}),
        ("/settings/billing", {"account_prefix": "X-"}),
        ("/customers/services/{sub}/state", {"action": "terminate"}),
        ("/monitoring/reset-pool", {})]


@pytest.mark.parametrize("url,data", CSRF, ids=[c[0] for c in CSRF])
@pytest.mark.parametrize("token", ["", "forged-token"], ids=["missing", "forged"])
def test_missing_csrf(world, url, data, token):
    """A POST without a valid CSRF token is a 400 that says why, and writes nothing."""
    url = url.replace("{customer}", str(world.customer)).replace("{router}", str(world.router.id)).replace(
        "{sub}", str(world.sub))
    data = {k: v.replace("{plan}", str(world.plan.id)) for k, v in data.items()}
    if token:
        data["csrf_token"] = token
    world.bad.post(url, data, "Your form expired or was not sent from this site", status=400, csrf=False)


@pytest.mark.parametrize("url", ["/imports/", "/settings/", "/customers/new"])
def test_oversize_body(world, url):
    """A body over MAX_CONTENT_LENGTH is refused with a 413 before any form reads it."""
    body = b"x" * (9 * 1024 * 1024)
    world.bad.check("POST", url, 413, "too large", data=body, headers={"Content-Type": "application/octet-stream"},
                    csrf=False)


def test_oversize_body_htmx(world):
    """An oversize upload from a boosted form gets the panel's error block, retargeted so the user sees it."""
    response = world.bad.check("POST", "/imports/", 413, "larger than", data=b"x" * (9 * 1024 * 1024), csrf=False,
                               headers={"Content-Type": "application/octet-stream", "HX-Request": "true"})
    assert response.headers.get("HX-Retarget") == "#main"
