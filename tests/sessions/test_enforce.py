"""The poll enforces who may be online: a suspended (disable mode), pending or terminated service seen with a
live session is queued again with a kick on `critical`; a hotspot subscriber crossing the cap is kicked too."""
from __future__ import annotations

import json

from sqlalchemy import delete, select

from isp import crypto
from isp.extensions import db as _db
from isp.models import Branding, CommandState, Priority, RouterCommand, Subscription, SubscriptionState
from isp.services import provisioning
from tests.conftest import run_worker
from tests.sessions.conftest import poll, sessions_of

S = SubscriptionState


def _placed(app, sub_id):
    """Put the service on the router through the real pipeline (so the secret or user is the panel's)."""
    with app.app_context():
        sub = _db.session.get(Subscription, sub_id)
        sub.password_encrypted = crypto.encrypt("pw")
        provisioning.sync(sub)
        _db.session.commit()
    run_worker(app)


def _lose_change(app, sub_id, state):
    """The state changes in SQL but its router command is lost (deleted before any worker ran)."""
    with app.app_context():
        _db.session.get(Subscription, sub_id).state = state
        _db.session.execute(delete(RouterCommand))
        _db.session.commit()


def _pending(app):
    with app.app_context():
        return [(c.idempotency_key, c.priority, json.loads(c.payload_json)) for c in _db.session.scalars(
            select(RouterCommand).where(RouterCommand.state == CommandState.pending))]


def _active(sim, menu, key="name"):
    return {r[key] for r in sim.state.rows(menu)}


def test_a_suspended_service_whose_kick_was_lost_is_kicked_after_one_poll(app, box, make_sub):
    sub_id = make_sub(box.id, "pppoe", "sam")
    _placed(app, sub_id)
    assert box.sim.login("sam", "ppp") is None
    _lose_change(app, sub_id, S.suspended)
    box.fleet.advance(30)
    assert "kicked 1" in poll(app, box.id)
    ((key, priority, payload),) = _pending(app)
    assert (key, priority, payload["kick"]) == ("service:pppoe:sam", Priority.critical, True)
    assert "kicked 1" in poll(app, box.id) and len(_pending(app)) == 1  # a second poll collapses into it
    run_worker(app)
    assert "sam" not in _active(box.sim, "/ppp/active")
    assert {r["name"]: r["disabled"] for r in box.sim.state.rows("/ppp/secret")}["sam"] == "true"
    box.fleet.advance(30)
    assert "kicked 0" in poll(app, box.id)
    assert sessions_of(app, sub_id)[-1].end_reason == "gone"


def test_a_terminated_service_still_online_is_removed_and_kicked_not_closed_as_gone(app, box, make_sub):
    sub_id = make_sub(box.id, "pppoe", "tom")
    _placed(app, sub_id)
    assert box.sim.login("tom", "ppp") is None
    box.fleet.advance(30)
    poll(app, box.id)
    _lose_change(app, sub_id, S.terminated)
    box.fleet.advance(30)
    assert "kicked 1" in poll(app, box.id)
    (session,) = sessions_of(app, sub_id)
    assert session.ended_at is None and session.uptime_seconds == 60  # still connected: still on the books
    run_worker(app)
    assert "tom" not in _active(box.sim, "/ppp/active") and "tom" not in _active(box.sim, "/ppp/secret")
    box.fleet.advance(30)
    poll(app, box.id)
    assert sessions_of(app, sub_id)[0].ended_at is not None


def test_restrict_mode_lets_a_suspended_subscriber_stay_online_and_active_ones_are_left_alone(app, box, make_sub):
    with app.app_context():
        branding = _db.session.get(Branding, 1) or Branding(id=1, business_name="", currency="", logo_mime="")
        branding.suspend_mode = "restrict"
        _db.session.add(branding)
        _db.session.commit()
    restricted, fine = make_sub(box.id, "pppoe", "una"), make_sub(box.id, "hotspot", "val")
    for sub_id in (restricted, fine):
        _placed(app, sub_id)
    assert box.sim.login("una", "ppp") is None and box.sim.login("val", "hotspot") is None
    _lose_change(app, restricted, S.suspended)
    box.fleet.advance(30)
    assert "online 2" in poll(app, box.id) and "kicked 0" in poll(app, box.id)
    assert _pending(app) == []


def test_a_hotspot_subscriber_crossing_the_cap_is_kicked_onto_the_fallback_rate(app, box, make_sub):
    sub_id = make_sub(box.id, "hotspot", "wes", cap=5_000_000, fup_rate="512k/1M")
    _placed(app, sub_id)
    poll(app, box.id)
    assert box.sim.login("wes", "hotspot") is None
    box.fleet.advance(600)
    assert "fup 1" in poll(app, box.id)
    ((key, _, payload),) = _pending(app)
    assert key == "service:hotspot:wes" and payload["steps"][-1][0] == "hotspot_active.kick"
    run_worker(app)
    assert "wes" not in _active(box.sim, "/ip/hotspot/active", "user")
    assert {r["name"]: r["profile"] for r in box.sim.state.rows("/ip/hotspot/user")}["wes"].endswith("-fup")
