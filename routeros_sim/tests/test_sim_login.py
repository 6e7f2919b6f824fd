"""Login (plain and legacy), session limits, TLS and the async client."""

import asyncio
import ssl

import librouteros
import pytest
import routeros_api
from librouteros.exceptions import ConnectionClosed, FatalError, TrapError
from librouteros.login import token

from routeros_sim import Fleet, RouterConfig, client_context
from routeros_sim.tests.simclient import PASSWORD, RawClient, attrs, connect, wait_for


def test_plain_login_succeeds_and_is_counted(router):
    before = router.stats.logins
    api = connect(router)
    assert [r["name"] for r in api.path("system", "identity")] == ["r720"]
    api.close()
    assert router.stats.logins == before + 1


def test_plain_login_failure_has_the_routeros_message(router):
    with pytest.raises(TrapError) as err:
        librouteros.connect("127.0.0.1", username="admin", password="wrong", port=router.port)
    assert err.value.message == "invalid user name or password (6)"


def test_command_before_login_is_fatal(router):
    client = RawClient(router.port)
    client.send("/system/identity/print")
    assert client.read() == ["!fatal", "not logged in"]
    with pytest.raises(ConnectionError):
        client.read()
    client.close()


def test_quit_answers_fatal_with_raw_reason(api):
    with pytest.raises(FatalError) as err:
        tuple(api("/quit"))
    assert str(err.value) == "session terminated on request"


def test_routeros_api_plaintext_login(router):
    pool = routeros_api.RouterOsApiPool("127.0.0.1", username="admin", password=PASSWORD,
                                        port=router.port, plaintext_login=True)
    api = pool.get_api()
    assert api.get_resource("/system/identity").get() == [{"name": "r720"}]
    pool.disconnect()


def test_legacy_login_with_routeros_api_and_librouteros(fleet):
    legacy = fleet["r6"]
    pool = routeros_api.RouterOsApiPool("127.0.0.1", username="admin", password=PASSWORD,
                                        port=legacy.port, plaintext_login=False)
    assert pool.get_api().get_resource("/system/identity").get() == [{"name": "r6"}]
    pool.disconnect()
    api = connect(legacy, login_method=token)
    assert [r["name"] for r in api.path("system", "identity")] == ["r6"]
    api.close()


def test_legacy_challenge_is_hex_and_bad_response_cannot_log_in(fleet):
    client = RawClient(fleet["r6"].port)
    client.send("/login")
    done = client.read()
    assert done[0] == "!done" and len(bytes.fromhex(attrs(done)["ret"])) == 16
    client.send("/login", "=name=admin", "=response=00" + "0" * 32)
    assert client.until_done() == [["!trap", "=message=cannot log in"], ["!done"]]
    client.close()


def test_plain_login_against_legacy_router_is_not_a_real_login(fleet):
    # A pre-6.43 router answers a plain login with a challenge; the next command is refused.
    api = connect(fleet["r6"])
    with pytest.raises(FatalError):
        list(api.path("system", "identity"))


def test_max_sessions_refuses_the_extra_connection():
    with Fleet([RouterConfig(password=PASSWORD, max_sessions=2, tls_port=None)], speed=0) as fleet:
        router = fleet.routers[0]
        first, second = connect(router), connect(router)
        with pytest.raises((ConnectionClosed, ConnectionError)):
            connect(router)
        assert router.stats.refused == 1 and router.stats.connections_open == 2
        first.close()
        assert wait_for(lambda: router.stats.connections_open == 1)
        third = connect(router)
        assert [r["name"] for r in third.path("system", "identity")] == [router.name]
        second.close()
        third.close()


def test_tls_listener_with_verified_certificate(fleet, router):
    ctx = client_context(fleet.cert_pem)
    api = connect(router, port=router.tls_port,
                  ssl_wrapper=lambda sock: ctx.wrap_socket(sock, server_hostname="127.0.0.1"))
    assert [r["name"] for r in api.path("system", "identity")] == ["r720"]
    api.close()


def test_tls_port_refuses_plaintext_and_untrusting_clients(router):
    with pytest.raises((ConnectionClosed, OSError)):
        connect(router, port=router.tls_port)
    strict = ssl.create_default_context()
    with pytest.raises(ssl.SSLCertVerificationError):
        connect(router, port=router.tls_port,
                ssl_wrapper=lambda s: strict.wrap_socket(s, server_hostname="127.0.0.1"))


def test_routeros_api_over_tls(router):
    pool = routeros_api.RouterOsApiPool("127.0.0.1", username="admin", password=PASSWORD,
                                        port=router.tls_port, plaintext_login=True,
                                        ssl_context=client_context())
    assert pool.get_api().get_resource("/system/identity").get() == [{"name": "r720"}]
    pool.disconnect()


def test_librouteros_async_client(router):
    async def main():
        api = await librouteros.async_connect("127.0.0.1", username="admin", password=PASSWORD,
                                              port=router.port, encoding="utf-8", timeout=5)
        users = api.path("ip", "hotspot", "user")
        uid = await users.add(name="async-user", password="p")
        names = [row["name"] async for row in users]
        await users.remove(uid)
        await api.close()
        return names

    assert "async-user" in asyncio.run(main())
