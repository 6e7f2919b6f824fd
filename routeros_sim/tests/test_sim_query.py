"""The query stack through real clients, plus count-only and .proplist."""

import pytest
import routeros_api
from librouteros.query import And, Key, Or

from routeros_sim.query import Query, QueryError
from routeros_sim.tests.simclient import PASSWORD, attrs

NAME, DISABLED, LIMIT = Key("name"), Key("disabled"), Key("limit-bytes-total")


@pytest.fixture(scope="module", autouse=True)
def users(router):
    state = router.state
    ids = [state.add("/ip/hotspot/user", name="q%d" % i, limit_bytes_total=i * 100,
                     disabled=(i % 2 == 0), comment="vip" if i == 3 else "")
           for i in range(1, 6)]
    yield ids
    with state.lock:
        menu = state.menu("/ip/hotspot/user")
        for item in menu.find_many(",".join(ids)):
            menu.delete(item)


def names(rows):
    return sorted(r["name"] for r in rows)


@pytest.mark.parametrize("where, expected", [
    ((NAME == "q2",), ["q2"]),
    ((NAME != "q2",), ["q1", "q3", "q4", "q5"]),
    ((LIMIT < 250,), ["q1", "q2"]),
    ((LIMIT > 250,), ["q3", "q4", "q5"]),
    ((NAME.In("q1", "q4", "zz"),), ["q1", "q4"]),
    ((And(DISABLED == True, LIMIT > 250),), ["q4"]),  # noqa: E712 - librouteros sends yes
    ((Or(NAME == "q1", NAME == "q5"),), ["q1", "q5"]),
    ((DISABLED == False,), ["q1", "q3", "q5"]),  # noqa: E712
])
def test_librouteros_query_operators(api, where, expected):
    rows = api.path("ip", "hotspot", "user").select(NAME).where(*where)
    assert names(rows) == expected


def test_proplist_keeps_only_listed_properties(api):
    rows = list(api.path("ip", "hotspot", "user").select(NAME, Key("nothing")).where(NAME == "q1"))
    assert rows == [{"name": "q1"}]


@pytest.mark.parametrize("queries, expected", [
    (["?comment"], ["q1", "q2", "q3", "q4", "q5"]),
    (["?-comment"], []),
    (["?comment=vip"], ["q3"]),
    (["?=comment=vip"], ["q3"]),
    (["?disabled=yes", "?disabled=true", "?#&"], ["q2", "q4"]),
    (["?name=q1", "?#!"], ["q2", "q3", "q4", "q5"]),
    (["?name=q1", "?#.|"], ["q1"]),
    (["?name=q1", "?comment=vip", "?#0|&"], ["q1"]),  # 0 indexes from the bottom
    (["?<name=q3", "?>name=q1", "?#&"], ["q2"]),
    (["?limit-uptime"], []),
])
def test_raw_query_words(raw, queries, expected):
    raw.send("/ip/hotspot/user/print", *queries, "?name", "?#&", "=.proplist=name")
    rows = [attrs(s) for s in raw.until_done() if s[0] == "!re"]
    assert names(r for r in rows if r["name"].startswith("q")) == expected


def test_count_only_returns_ret(raw):
    raw.send("/ip/hotspot/user/print", "=count-only=", "?disabled=true")
    assert raw.until_done()[-1] == ["!done", "=ret=2"]


def test_routeros_api_equality_query_and_count_only_flag(router):
    pool = routeros_api.RouterOsApiPool("127.0.0.1", username="admin", password=PASSWORD,
                                        port=router.port, plaintext_login=True)
    api = pool.get_api()
    assert [u["name"] for u in api.get_resource("/ip/hotspot/user").get(name="q3")] == ["q3"]
    done = api.get_binary_resource("/ip/hotspot/user").call("print", {"count-only": b""}).done_message
    assert int(done["ret"]) >= 5
    pool.disconnect()


def test_query_engine_edge_cases():
    row = {"name": "a", "uptime": "1h", "flag": "true"}
    assert Query(["<uptime=2h"]).matches(row) and not Query([">uptime=1d"]).matches(row)
    assert Query(["flag=yes"]).matches(row) and Query(["flag=no", "#!"]).matches(row)
    assert Query([]).matches(row)
    with pytest.raises(QueryError):
        Query(["#x"]).matches(row)
    with pytest.raises(QueryError):
        Query(["<uptime"])
