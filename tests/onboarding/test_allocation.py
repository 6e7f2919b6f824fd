"""Onboarding allocates a tunnel address, keys, secrets and the nas row, in the router's own unit of work."""
from __future__ import annotations

import base64
import threading

import pytest
from sqlalchemy import func, select

from isp.crypto import decrypt, decrypt_bound
from isp.extensions import db
from isp.models import Router
from isp.radius.models import Nas
from isp.services import branding, onboarding, routers, wireguard
from isp.services.errors import ServiceError
from isp.transaction import atomic
from tests.onboarding.conftest import router_data


def _create(**fields) -> Router:
    router = routers.create_router(router_data(**fields))
    db.session.commit()
    return router


def test_created_router_gets_address_keys_secret_login_and_nas_row(ctx):
    router = _create()
    assert router.tunnel_address == "10.100.0.2"  # .0 is the network, .1 the hub
    assert router.addresses == ["10.100.0.2", "192.168.88.1"]  # generated login: reached over the tunnel first
    private = onboarding.private_key(router)
    assert wireguard.public_key_of(private) == router.wg_public_key  # a real X25519 pair
    assert len(base64.b64decode(router.wg_public_key)) == 32
    assert private not in router.wg_private_key_encrypted and decrypt(router.wg_private_key_encrypted) == private
    secret = onboarding.radius_secret(router)
    assert len(secret) >= 24 and secret not in router.radius_secret_encrypted
    password, bound = decrypt_bound(router.password_encrypted)
    assert router.username == "isp-panel" and router.api_user_generated and len(password) >= 24
    assert bound == router.endpoint  # sealed to the tunnel-first address list, like any router password
    nas = db.session.scalars(select(Nas)).all()
    assert [(n.nasname, n.shortname, n.type, n.secret) for n in nas] == [("10.100.0.2", "edge-1", "other", secret)]


def test_secrets_differ_between_routers(ctx):
    one, two = _create(name="a"), _create(name="b")
    assert one.tunnel_address != two.tunnel_address
    assert one.wg_public_key != two.wg_public_key
    assert onboarding.radius_secret(one) != onboarding.radius_secret(two)
    assert decrypt(one.password_encrypted) != decrypt(two.password_encrypted)


def test_typed_password_keeps_login_and_addresses(ctx):
    router = _create(password="typed-Secret-1", username="admin", mode="api")
    assert router.tunnel_address == "10.100.0.2" and router.addresses == ["192.168.88.1"]
    assert router.username == "admin" and decrypt(router.password_encrypted) == "typed-Secret-1"
    assert not router.api_user_generated
    assert db.session.scalar(select(func.count()).select_from(Nas)) == 0  # api mode: no RADIUS client


def test_allocation_skips_hub_reserved_and_taken_addresses(ctx):
    settings = branding.get()
    settings.tunnel_range, settings.hub_tunnel_address = "10.9.0.0/29", "10.9.0.2"
    settings.tunnel_reserved = "10.9.0.1, 10.9.0.4/31"
    db.session.commit()
    addresses = [_create(name=f"r{i}").tunnel_address for i in range(2)]
    assert addresses == ["10.9.0.3", "10.9.0.6"]  # .0 network, .1 reserved, .2 hub, .4-.5 reserved, .7 broadcast
    with pytest.raises(ServiceError, match="10.9.0.0/29 is full"):
        routers.create_router(router_data(name="r2"))
    db.session.rollback()


def test_disabled_router_keeps_its_address_and_hard_delete_frees_it(ctx):
    branding.get()  # the saved settings row (the hub's): it remembers the last address issued
    db.session.commit()
    first = _create(name="first")
    routers.update_router(first, {**router_data(name="first"), "addresses": "\n".join(first.addresses),
                                  "enabled": False, "password": ""})
    db.session.commit()
    assert first.tunnel_address == "10.100.0.2" and not first.enabled
    assert _create(name="second").tunnel_address == "10.100.0.3"
    assert db.session.scalar(select(func.count()).select_from(Nas).where(Nas.nasname == "10.100.0.2")) == 1
    routers.delete_router(first)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Nas).where(Nas.nasname == "10.100.0.2")) == 0
    # Freed, but not handed out at once: FreeRADIUS may still cache the old client and its secret, and the hub still
    # lists the old peer. Allocation goes on after the last address issued, and comes back round when it runs out.
    assert _create(name="third").tunnel_address == "10.100.0.4"
    settings = branding.get()
    settings.tunnel_range, settings.hub_tunnel_address = "10.100.0.0/29", "10.100.0.1"  # hosts .1-.6: .5, .6, then .2
    db.session.commit()
    assert [_create(name=n).tunnel_address for n in ("fourth", "fifth", "sixth")] == ["10.100.0.5", "10.100.0.6",
                                                                                         "10.100.0.2"]


def test_nas_row_follows_name_and_mode(ctx):
    router = _create(name="x" * 40)
    assert db.session.scalar(select(Nas.shortname)) == "x" * 32  # nas.shortname holds 32
    base = {**router_data(), "addresses": "\n".join(router.addresses), "password": ""}
    routers.update_router(router, {**base, "name": "renamed"})
    db.session.commit()
    assert db.session.scalar(select(Nas.shortname)) == "renamed"
    routers.update_router(router, {**base, "name": "renamed", "mode": "api"})
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Nas)) == 0
    routers.update_router(router, {**base, "name": "renamed", "mode": "radius"})
    db.session.commit()
    assert db.session.scalar(select(Nas.nasname)) == router.tunnel_address


def test_router_and_nas_row_commit_together_or_not_at_all(ctx):
    """A failure after the nas row was written rolls back the router too (one unit of work)."""
    def work():
        routers.create_router(router_data(name="doomed"))
        raise RuntimeError("boom after the nas row")

    with pytest.raises(RuntimeError):
        atomic(work)
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Router)) == 0
    assert db.session.scalar(select(func.count()).select_from(Nas)) == 0


def test_onboard_existing_router(ctx):
    router = Router(name="legacy", addresses_text="192.168.1.1", username="admin", password_encrypted="")
    db.session.add(router)
    db.session.flush()
    from isp.crypto import encrypt_bound
    router.password_encrypted = encrypt_bound("old-pass", router.endpoint)
    db.session.commit()
    onboarding.onboard(router, generate_login=False)
    db.session.commit()
    assert router.tunnel_address == "10.100.0.2" and router.addresses == ["192.168.1.1"]
    assert decrypt_bound(router.password_encrypted) == ("old-pass", router.endpoint)
    with pytest.raises(ServiceError, match="already onboarded"):
        onboarding.onboard(router)
    assert onboarding.tunnel_first(router)
    assert router.addresses == ["10.100.0.2", "192.168.1.1"]
    assert decrypt_bound(router.password_encrypted) == ("old-pass", router.endpoint)  # re-sealed for the new list


def _onboard_in_thread(app, name: str, results: dict, barrier: threading.Barrier) -> None:
    with app.app_context():
        try:
            barrier.wait(timeout=10)
            router = atomic(lambda: routers.create_router(router_data(name=name)))
            results[name] = router.tunnel_address
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results[name] = exc
        finally:
            db.session.remove()


def test_two_threads_onboarding_at_once_get_different_addresses(app):
    with app.app_context():
        db.create_all(bind_key="radius")
    for round_ in range(3):
        results: dict = {}
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=_onboard_in_thread, args=(app, f"t{round_}-{i}", results, barrier))
                   for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert all(isinstance(v, str) for v in results.values()), results
        assert len(set(results.values())) == 2, results
    with app.app_context():
        stored = list(db.session.scalars(select(Router.tunnel_address)))
        assert len(stored) == 6 and len(set(stored)) == 6
        nas = sorted(db.session.scalars(select(Nas.nasname)))
        assert nas == sorted(stored)


def test_unique_constraint_refuses_a_duplicate_address(ctx):
    """The database, not only the allocator, keeps addresses unique."""
    from sqlalchemy.exc import IntegrityError

    router = _create()
    db.session.add(Router(name="dup", addresses_text="1.2.3.4", username="u", password_encrypted="",
                          tunnel_address=router.tunnel_address))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_allocation_moves_past_an_address_taken_meanwhile(ctx, monkeypatch):
    """A clash on the unique key (another transaction won the race) makes the allocator try the next address."""
    _create(name="winner")  # holds 10.100.0.2
    real = wireguard.next_free
    calls = []

    def stale(settings, tried=()):
        calls.append(list(tried))
        return "10.100.0.2" if not tried else real(settings, tried)  # first pick ignores the winner, as a race would

    monkeypatch.setattr(wireguard, "next_free", stale)
    router = _create(name="loser")
    assert router.tunnel_address == "10.100.0.3" and calls == [[], ["10.100.0.2"]]
    assert router.name == "loser" and db.session.get(Router, router.id) is router


def test_onboarding_a_stored_router_survives_a_lost_race(ctx, monkeypatch):
    """A stored router's changes are expired by the rolled-back SAVEPOINT: they are set again on the next try."""
    _create(name="winner")  # holds 10.100.0.2
    legacy = Router(name="legacy", addresses_text="192.168.1.1", username="admin", password_encrypted="", notes="kept")
    db.session.add(legacy)
    db.session.commit()
    real = wireguard.next_free
    monkeypatch.setattr(wireguard, "next_free", lambda settings, tried=(): "10.100.0.2" if not tried else real(settings, tried))
    onboarding.onboard(legacy, generate_login=True)
    db.session.commit()
    db.session.expire_all()
    assert legacy.tunnel_address == "10.100.0.3" and legacy.addresses == ["10.100.0.3", "192.168.1.1"]
    assert legacy.username == "isp-panel" and legacy.api_user_generated and legacy.notes == "kept"
    assert wireguard.public_key_of(onboarding.private_key(legacy)) == legacy.wg_public_key
    assert decrypt_bound(legacy.password_encrypted)[1] == legacy.endpoint
    assert db.session.scalar(select(Nas.nasname).where(Nas.nasname == "10.100.0.3")) is None  # api mode: no nas row


def test_a_mode_change_hands_subscribers_over_in_the_same_edit(ctx, monkeypatch):
    from isp.models import RouterMode
    from isp.services import provisioning

    calls = []
    monkeypatch.setattr(provisioning, "mode_changed", lambda router, previous: calls.append((router.mode, previous)) or 0)
    router = _create(mode="api", password="typed-Secret-1", username="admin")
    base = {**router_data(), "username": "admin", "addresses": "\n".join(router.addresses), "password": ""}
    routers.update_router(router, {**base, "mode": "api", "site": "x"})
    assert calls == []
    routers.update_router(router, {**base, "mode": "radius"})
    assert calls == [(RouterMode.radius, RouterMode.api)]
    assert db.session.scalar(select(Nas.nasname)) == router.tunnel_address
    db.session.rollback()


def test_a_huge_reserved_block_is_jumped_over(ctx):
    settings = branding.get()
    settings.tunnel_range, settings.hub_tunnel_address = "10.0.0.0/8", "10.0.0.1"
    settings.tunnel_reserved = "10.0.0.0/9, 10.128.0.2"
    db.session.commit()
    free = wireguard.candidates(settings, ["10.128.0.1"])
    assert [next(free) for _ in range(3)] == ["10.128.0.0", "10.128.0.3", "10.128.0.4"]  # .0 is a host in a /8
    assert _create().tunnel_address == "10.128.0.0"
